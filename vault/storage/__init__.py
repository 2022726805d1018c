"""instance.db and vault files (SQLCipher), repositories, migration runner. Imports no Flask."""
