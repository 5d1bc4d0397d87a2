"""SQLModel tables and API schemas, one module per resource family."""
