"""Grammar files shipped with grammarvae (installed as the package `grammarvae.grammars`)."""
