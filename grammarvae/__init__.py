"""grammarvae: the Grammar Variational Autoencoder for molecules, on Keras 3.

    >>> from grammarvae import Grammar
    >>> Grammar.load("zinc").parse("CCO")[:3]
    [0, 2, 1]

The grammar engine imports no TensorFlow; the model (`GrammarVAE`) is imported on
first use, so parsing and data preparation start fast.
"""

from grammarvae.errors import GrammarError
from grammarvae.grammar import Grammar

__version__ = "0.1.0"
__all__ = ["Grammar", "GrammarError", "GrammarVAE", "__version__"]


def __getattr__(name: str):
    if name == "GrammarVAE":
        from grammarvae.models.gvae import GrammarVAE

        return GrammarVAE
    raise AttributeError(f"module 'grammarvae' has no attribute {name!r}")
