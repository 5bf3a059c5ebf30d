"""
The registry's domain: events, the projection folded from them, references and rules.

Nothing here touches storage: ``events`` are plain data, ``codec`` converts them to and
from the log's JSON payloads, ``state`` folds recorded events into the in-memory
projection, ``queries`` answers questions from it and ``views`` are what it returns.
"""
