"""Database access: engines, sessions with tenant context, embedded PostgreSQL, migrations, RLS helpers."""
