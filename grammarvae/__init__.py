"""grammarvae: the Grammar Variational Autoencoder for molecules, on Keras 3.

    >>> from grammarvae import Grammar
    >>> Grammar.load("zinc").parse("CCO")[:3]
    [0, 2, 1]

The grammar engine imports no TensorFlow; the grammar (`Grammar`) and the model
(`GrammarVAE`) are imported on first use, so the command line answers --help and bad usage
at once, and parsing and data preparation start without TensorFlow.
"""

import os

# TensorFlow's C++ start-up lines (CPU features, absl) are not for the package's users; a
# caller that wants them sets TF_CPP_MIN_LOG_LEVEL itself, or imports TensorFlow first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from grammarvae.errors import GrammarError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Grammar", "GrammarError", "GrammarVAE", "__version__"]


def __getattr__(name: str):
    if name == "Grammar":  # nltk takes seconds to import: the command line's --help and usage errors need none
        from grammarvae.grammar import Grammar

        return Grammar
    if name == "GrammarVAE":
        from grammarvae.models.gvae import GrammarVAE

        return GrammarVAE
    raise AttributeError(f"module 'grammarvae' has no attribute {name!r}")
