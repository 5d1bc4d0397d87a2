"""Server-rendered self-service pages."""
