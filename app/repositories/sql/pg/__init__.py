"""The PostgreSQL fast paths: statements sent to asyncpg directly under SQLAlchemy's transaction (hot reads and
writes, COPY, the batch sweep), the advisory locks and the feed sequencer. SQLite never reaches this package.

Every reliance on a private SQLAlchemy name is in `internals`, behind one function each, pinned by
tests/db/test_sqlalchemy_internals.py."""
