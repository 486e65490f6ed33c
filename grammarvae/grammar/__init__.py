"""The grammar engine: loading, parsing, encoding, masks. Imports no TensorFlow or Keras."""

from grammarvae.errors import GrammarError
from grammarvae.grammar.cfg import Encoded, Grammar, grammar_path

__all__ = ["Encoded", "Grammar", "GrammarError", "grammar_path"]
