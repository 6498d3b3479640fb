"""The mirror: following workflows of both kinds of run into Postgres."""
