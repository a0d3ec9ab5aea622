"""peewee models: the database binding, one module per aggregate, and schema migration."""
