"""The version of ``grader.json`` that every saved grader writes (the classifier grader and the LLM
judge), in a module of its own so that neither has to import the other to read it."""

FORMAT_VERSION = 1
