"""`GrammarVAE`: the Grammar VAE (Kusner et al. 2017) on `vae_core.VAE`.

    >>> from grammarvae import GrammarVAE
    >>> m = GrammarVAE(preset="small")            # or GrammarVAE.load("model.keras"), .pretrained()
    >>> z = m.encode(["CCO", "c1ccccc1O"])        # (2, 56) latent means
    >>> m.decode(z)                               # canonical SMILES, always valid molecules
    >>> m.sample(100, seed=0)
    >>> m.sample_around("CCO", n=20, scale=0.5, seed=0)
    >>> m.interpolate("CCO", "c1ccccc1O", steps=8)
    >>> m.draw(smiles, "grid.png")
    >>> m.fit(m.dataset(X_train, batch_size=256), epochs=10)   # X: int production sequences

Molecules are read and written as Kekule SMILES inside the model (see
`grammarvae.decoding`); what callers get back is RDKit canonical (aromatic) SMILES.
"""

from __future__ import annotations

import dataclasses
import warnings
import zipfile
from importlib import resources
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import keras
import numpy as np

from grammarvae.errors import GrammarError, shown
from grammarvae.grammar import Grammar
from grammarvae.language import DecodeStats, language as language_named
from grammarvae.models.masked import MaskedCategorical
from vae_core import VAE, AutoregressiveGRUDecoder, conv1d_encoder, gru_decoder
from vae_core.priors import AggregatePosterior, normal_stream

class EncodeResult(NamedTuple):
    """What `GrammarVAE.encode_checked` gives, one row of Z per input."""
    Z: np.ndarray  # (n, latent_dim) latent means, NaN rows where the input failed
    errors: list  # (index, input, reason) of the inputs that could not be encoded
    mixtures: list  # (index, input, fragment kept) of salts and mixtures encoded as their largest fragment
    prepared: list = []  # (index, input, what was removed) of molecules neutralised or stripped of stereo
    unseen: list = []  # (index, input, productions) of molecules holding what the model never saw in training
    standard: list = []  # per input, the Kekule SMILES encoded ("" where it failed)


MAX_MODEL_BYTES = 1 << 30  # a .keras archive unpacked (the bundled ones: 12 MB; the paper's network: 20 MB)


def _check_archive(path: Path) -> None:
    """ValueError before loading a .keras archive that is not a zip, or whose members would
    unpack to more than MAX_MODEL_BYTES (a small file can inflate to gigabytes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: not a grammarvae model ({e})") from None
    if size > MAX_MODEL_BYTES:
        raise ValueError(f"{path}: unpacks to {size / 1e9:.1f} GB, more than a grammarvae model's "
                         f"{MAX_MODEL_BYTES / 1e9:.1f} GB at most; not loaded")


PRESETS = {
    # The network of the Grammar VAE paper.
    "paper": dict(max_len=277, latent_dim=56, filters=(9, 9, 10), kernels=(9, 9, 11), dense=435,
                  gru=(501, 501, 501)),
    # Trains usefully on a 2-core CPU: one GRU of 256 (1.3 s per batch of 256 here, against
    # 2.5 s for two of 192); 160 steps hold every MOSES molecule in Kekule form (longest 158).
    "small": dict(max_len=160, latent_dim=56, filters=(9, 9, 10), kernels=(9, 9, 11), dense=256,
                  gru=(256,)),
    # For tests: seconds, not minutes.
    "tiny": dict(max_len=160, latent_dim=8, filters=(4, 4), kernels=(5, 5), dense=32, gru=(24,)),
    # The bundled equation model's (the paper's expression network, 32 filters where it has 2-4:
    # examples/train_equations.py says why): for the plain language of grammars/equations.cfg.
    "equations": dict(max_len=15, latent_dim=25, filters=(32, 32, 32), kernels=(2, 3, 4), dense=100,
                      gru=(100, 100, 100)),
}
DECODERS = ("one-shot", "autoregressive")  # the paper's (z only), or fed its own earlier choices too
# The bundled models by name (data/MODEL_CARD.md has a section for each), and the one used
# when none is named (README, "The bundled models": the one that gives back more of what users bring).
PRETRAINED = {"equations": "grammarvae_equations.keras", "moses": "grammarvae_moses.keras",
              "zinc": "grammarvae_zinc.keras"}
DEFAULT_MODEL = "zinc"
DECODE_CHUNK = 1024  # molecules decoded together (1024 x 160 steps x 76 float32 logits: 50 MB)
UNSEEN = "holds what the model never saw in training ({}): it may not come back as written"
DRAW_ROUNDS = 10  # sampling only distinct or filtered molecules: rounds of n points drawn at most


def _passing(filters: Sequence[str] | None) -> Callable[[str], bool]:
    """Whether a molecule passes the named filters (every molecule, without filters)."""
    if not filters:
        return lambda smiles: True
    from grammarvae.filters import check_names, failed

    names = check_names(filters)
    return lambda smiles: not failed(smiles, names)


def _gather(draw: Callable[[], list[str]], n: int, accept: Callable[[str], bool]) -> list[str]:
    """The molecules of successive `draw()` rounds that `accept` takes, in order, until there
    are n or DRAW_ROUNDS rounds have been drawn."""
    out: list[str] = []
    for _ in range(DRAW_ROUNDS):
        out += [s for s in draw() if len(out) < n and accept(s)][: n - len(out)]
        if len(out) == n:
            break
    return out
BEAM_ROWS = 16384  # beams (molecules x width) decoded together: a wide beam takes fewer molecules at once


@keras.saving.register_keras_serializable(package="grammarvae")
class GrammarVAE(VAE):
    """Grammar VAE: 1-D convolutional encoder over one-hot production sequences, GRU
    decoder to per-step production logits, masked (grammar-constrained) likelihood.

    Args:
        preset: "paper", "small" or "tiny"; any field can be overridden by keyword.
        grammar: a grammar name or .cfg path (its text is stored in the saved model).
        beta, mmd_weight, mmd_kernel: the objective, as in `vae_core.VAE`: reconstruction +
            beta * KL (+ mmd_weight * MMD of the batch's z from N(0, I), InfoVAE's term).
        seed: seeds the initial weights (the same seed builds the same untrained model) and
            the training-time sampling layer.
        decoder: "one-shot" (the paper's: a GRU that sees z repeated over the steps) or
            "autoregressive" (a GRU fed z and the production chosen at the previous step:
            teacher forcing in training, its own choices when decoding).
        trained_productions: the production ids its training derivations used (`train`
            records them; None for a model that records none): what it can give back
            (`unseen`, `preparation`).
        language: "smiles" (molecules: RDKit in and out, the chemistry rules of the masked
            decoder) or "plain" (the strings of any grammar, under its masks alone); see
            `grammarvae.language`.
        prior_size, prior_scale: the bank of a fitted `AggregatePosterior` (`with_prior`
            makes one; a saved model keeps it), from which `sample` draws by default.
    """

    def __init__(self, preset: str = "small", grammar: str = "zinc", grammar_text: str | None = None,
                 max_len: int | None = None, latent_dim: int | None = None,
                 filters: Sequence[int] | None = None, kernels: Sequence[int] | None = None,
                 dense: int | None = None, gru: Sequence[int] | None = None,
                 beta: float = 1.0, seed: int | None = None, decoder: str = "one-shot",
                 trained_productions: Sequence[int] | None = None, prior_size: int | None = None,
                 prior_scale: float = 3.0, language: str = "smiles", **kwargs):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; one of {sorted(PRESETS)}")
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; one of {DECODERS}")
        given = dict(max_len=max_len, latent_dim=latent_dim, filters=filters, kernels=kernels,
                     dense=dense, gru=gru)
        arch = {k: (v if given[k] is None else given[k]) for k, v in PRESETS[preset].items()}
        arch = {k: tuple(v) if isinstance(v, (list, tuple)) else int(v) for k, v in arch.items()}
        reach = 1 + sum(k - 1 for k in arch["kernels"])  # the unpadded convolutions' steps at the least
        if arch["max_len"] < reach:
            raise ValueError(f"max_len {arch['max_len']} is too short for the convolutions (kernels "
                             f"{', '.join(map(str, arch['kernels']))} need {reach} steps at the least): a "
                             f"longer max_len, or smaller kernels (preset tiny or equations)")
        text = grammar_text if grammar_text is not None else Grammar.load(grammar).cfg_text
        g = Grammar(text, name=str(grammar))
        P = g.n_productions
        dec_seed = None if seed is None else seed + 1
        autoregressive = decoder == "autoregressive"
        # The autoregressive model reads batches cut to their longest derivation: its encoder
        # pads them back to max_len with the padding production.
        encoder = conv1d_encoder(arch["max_len"], P, arch["filters"], arch["kernels"], arch["dense"],
                                 arch["latent_dim"], seed=seed, pad_token=g.pad if autoregressive else None)
        if autoregressive:
            network = AutoregressiveGRUDecoder(arch["latent_dim"], P, arch["max_len"], arch["gru"],
                                               seed=dec_seed, name="decoder")
        else:
            network = gru_decoder(arch["latent_dim"], arch["max_len"], P, arch["gru"], dense=arch["dense"],
                                  seed=dec_seed)
        kwargs.pop("encoder", None), kwargs.pop("log_likelihood", None)
        kwargs.setdefault("name", "grammar_vae")
        super().__init__(encoder, network, log_likelihood=MaskedCategorical.from_grammar(g), beta=beta,
                         seed=seed, **kwargs)
        self.preset, self.grammar_name, self.grammar = preset, str(grammar), g
        self.decoder_kind = decoder
        self.arch = arch
        self.max_len = arch["max_len"]
        self.language = language_named(language)
        self.decoder_engine = self.language.decoder(g)
        self._engines = {}  # masked decoders with a ring-size preference, by its text
        self.trained_productions = None if trained_productions is None else sorted(int(i) for i in trained_productions)
        self.prior = (None if not prior_size else
                      AggregatePosterior(prior_size, arch["latent_dim"], prior_scale, name="prior"))
        self(np.zeros((1, self.max_len, P), dtype="float32"))  # build, so weights can be restored

    # ------------------------------------------------------------ data
    def preparation(self, neutralize: bool | None = None, strip_stereo: bool | None = None) -> tuple[bool, bool]:
        """(neutralize, strip_stereo) as `to_ids` applies them: each as given, or with None
        the model's default: remove charges from the input if the model saw none in training,
        and stereo marks likewise (the MOSES model saw neither, the ZINC model both; a model
        that records nothing of its training keeps everything)."""
        from grammarvae.scope import writes_charges, writes_stereo

        if not self.language.prepares:  # nothing it could remove: its `read` refuses being asked to
            return bool(neutralize), bool(strip_stereo)
        seen = self.trained_productions
        if neutralize is None:
            neutralize = seen is not None and not writes_charges(self.grammar, seen)
        if strip_stereo is None:
            strip_stereo = seen is not None and not writes_stereo(self.grammar, seen)
        return bool(neutralize), bool(strip_stereo)

    def unseen(self, res, smiles: Sequence[str]) -> list[tuple[int, str, str]]:
        """(index, input, the productions named) for each encoded molecule of `res` (what
        `encode_smiles` gives for `smiles`) whose derivation uses a production the model never
        saw in training; none for a model that records nothing of its training."""
        from grammarvae.scope import describe, unseen

        if self.trained_productions is None:
            return []
        found = ((int(i), unseen(res.X[i], self.trained_productions)) for i in np.flatnonzero(res.ok))
        return [(i, smiles[i], describe(self.grammar, u)) for i, u in found if u]

    def _encode_smiles(self, smiles: Sequence[str], neutralize: bool | None, strip_stereo: bool | None):
        """encode_smiles as this model reads SMILES, and `unseen` of its molecules."""
        res = self.language.read(list(smiles), self.max_len, self.grammar, *self.preparation(neutralize, strip_stereo))
        return res, self.unseen(res, smiles)

    def to_ids(self, smiles: Sequence[str], neutralize: bool | None = None,
               strip_stereo: bool | None = None) -> np.ndarray:
        """Kekule-standardised production sequences (n, max_len). GrammarError naming the
        first bad input as it was given (its index, the SMILES, the reason); a
        `FragmentWarning` for each salt or mixture, encoded as its largest fragment; an
        `UnseenWarning` for each molecule that holds what the model never saw in training.
        Charges and stereo marks are removed as `preparation(neutralize, strip_stereo)` says."""
        from grammarvae.scope import UnseenWarning

        res, unseen = self._encode_smiles(smiles, neutralize, strip_stereo)
        if res.errors:
            i, s, why = res.errors[0]
            raise GrammarError(why, s, index=i)
        if res.mixtures:  # (only SMILES have them: RDKit is imported for them alone)
            from grammarvae.chem import FragmentWarning

            for i, s, kept in res.mixtures:
                warnings.warn(f"{shown(s)}: a salt or mixture; encoded its largest fragment, {kept}", FragmentWarning,
                              stacklevel=2)
        for i, s, what in unseen:
            warnings.warn(f"{shown(s)}: {UNSEEN.format(what)}", UnseenWarning, stacklevel=2)
        return res.X.astype(np.int32)

    def one_hot(self, X: np.ndarray) -> np.ndarray:
        return self.grammar.one_hot(X)

    def dataset(self, X: np.ndarray, batch_size: int = 256, shuffle: bool = True, seed: int = 0):
        """A tf.data pipeline over int production sequences that one-hots each batch on the fly."""
        from grammarvae.batches import make_dataset

        return make_dataset(X, self.grammar.n_productions, batch_size=batch_size, shuffle=shuffle, seed=seed,
                            by_length=self.autoregressive)

    # ------------------------------------------------------------ latent space
    def encode(self, smiles: Sequence[str] | str, batch_size: int = 256, neutralize: bool | None = None,
               strip_stereo: bool | None = None) -> np.ndarray:
        """Latent means (n, latent_dim) of SMILES; GrammarError names the first bad one. Charges
        and stereo are kept or removed as `preparation(neutralize, strip_stereo)` says."""
        if isinstance(smiles, str):
            smiles = [smiles]
        return self.encode_ids(self.to_ids(list(smiles), neutralize, strip_stereo), batch_size)

    def _points(self, z) -> np.ndarray:
        """z as (n, latent_dim) float32: one point (latent_dim,) or rows of them; ValueError
        for any other shape (a transposed or flattened array is not silently reshaped)."""
        z = np.asarray(z, dtype="float32")
        if z.ndim == 1 and len(z) == self.latent_dim:
            return z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latent points must be ({self.latent_dim},) or (n, {self.latent_dim}) for this "
                             f"model, got shape {z.shape}")
        return z

    def encode_ids(self, X: np.ndarray, batch_size: int = 256, progress=None, return_log_var: bool = False):
        """Latent means (n, latent_dim) of production sequences X (n, max_len), as `to_ids`
        makes; with `return_log_var`, (means, log-variances) of q(z|x)."""
        X = np.asarray(X)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if X.ndim != 2 or X.shape[1] > self.max_len or X.dtype.kind not in "iu":  # (cut batches: shorter)
            raise ValueError(f"production ids must be integers of shape (n, {self.max_len}) or fewer steps, "
                             f"got {X.dtype} {X.shape}")
        if X.size and (X.min() < 0 or X.max() >= self.grammar.n_productions):
            raise ValueError(f"production ids must be in [0, {self.grammar.n_productions}), got {X.min()} to {X.max()}")
        means, log_vars = [], []
        for i in range(0, len(X), batch_size):
            m, v = VAE.encode(self, self.one_hot(X[i:i + batch_size]), batch_size=batch_size, return_log_var=True)
            means.append(m)
            log_vars.append(v)
            if progress:
                progress(min(i + batch_size, len(X)), len(X))
        empty = np.zeros((0, self.latent_dim), dtype="float32")
        mean = np.concatenate(means) if means else empty
        if not np.isfinite(mean).all():
            raise ValueError("the encoder's outputs are not finite: the model's weights hold NaN or inf")
        return (mean, np.concatenate(log_vars) if log_vars else empty) if return_log_var else mean

    def encode_checked(self, smiles: Sequence[str], batch_size: int = 256, progress=None,
                       neutralize: bool | None = None, strip_stereo: bool | None = None) -> EncodeResult:
        """Encode what can be encoded: Z has one row per input, NaN where the input failed;
        errors lists (index, input, reason); mixtures (index, input, fragment kept) for salts
        and mixtures encoded as their largest fragment; prepared (index, input, what was
        removed) as `preparation(neutralize, strip_stereo)` says; unseen (index, input,
        productions) for molecules holding what the model never saw in training; standard
        the Kekule SMILES each input was encoded as."""
        res, unseen = self._encode_smiles(smiles, neutralize, strip_stereo)
        Z = np.full((len(smiles), self.latent_dim), np.nan, dtype="float32")
        if res.ok.any():
            Z[res.ok] = self.encode_ids(res.X[res.ok], batch_size, progress)
        return EncodeResult(Z, res.errors, res.mixtures, res.prepared, unseen, res.standard)

    def set_step_precision(self, dtype: str) -> None:
        """The autoregressive decoder's stepped matrix products in "float32" (the default) or
        "bfloat16": about 1.2x the greedy decoding speed on CPUs with AMX or AVX-512 BF16, where
        98% of the ZINC model's test decodes come out the same (the model card); the masks keep
        every decode valid either way. ValueError for a one-shot model."""
        if not self.autoregressive:
            raise ValueError("step precision applies to the autoregressive decoder; this model's is one-shot")
        self.decoder.set_step_precision(dtype)

    def decode(self, z, greedy: bool = True, temperature: float = 1.0, seed: int | None = 0,
               beam_width: int | None = None, batch_size: int = 256, progress=None,
               avoid_rings: str | None = None) -> list[str]:
        """Canonical SMILES for latent points z (n, latent_dim): always valid molecules.

        Greedy (each step's most likely allowed production), sampled (``greedy=False``, at
        `temperature`, seeded), or by beam search (``beam_width=K``: the most likely allowed
        derivation a beam of K finds). `avoid_rings` ("4,8+"; None or "none": no preference)
        names ring sizes closed only where nothing else may be written (see `engine`).
        Molecules are decoded in chunks of DECODE_CHUNK (of
        BEAM_ROWS // K by a beam, so that memory does not grow with the width);
        `decode_stats` then holds how many molecules, rings dropped and invalid (0) there were."""
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        z = self._points(z)
        bad = np.flatnonzero(~np.isfinite(z).all(axis=1))
        if len(bad):
            rows = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
            raise ValueError(f"latent rows {rows} are not finite (NaN or inf): {len(bad)} of {len(z)}")
        out: list[str] = []
        stats = DecodeStats()
        chunk = max(1, min(DECODE_CHUNK, BEAM_ROWS // beam_width)) if beam_width else DECODE_CHUNK
        for i in range(0, len(z), chunk):
            ids, drop = self.decode_ids(z[i:i + chunk], greedy=greedy, temperature=temperature,
                                        seed=None if seed is None else seed + i, beam_width=beam_width,
                                        batch_size=batch_size, avoid_rings=avoid_rings)
            texts, s = self.language.write(self.decoder_engine, ids, drop)
            out += texts
            stats = DecodeStats(*(a + b for a, b in zip(dataclasses.astuple(stats), dataclasses.astuple(s))))
            if progress:
                progress(len(out), len(z))
        self.decode_stats = stats
        return out

    def decode_ids(self, z, greedy: bool = True, temperature: float = 1.0, seed: int | None = 0,
                   beam_width: int | None = None, batch_size: int = 256, avoid_rings: str | None = None):
        """Production ids (n, max_len) under the masks, and per molecule the ring-digit steps
        to drop: `decode` before the SMILES are written."""
        from grammarvae.models.autoregressive import (NOT_FINITE, PrecomputedLogits, masked_beam_search,
                                                      masked_generate)

        engine = self.engine(avoid_rings)
        if self.autoregressive:
            network = self.decoder
        else:
            network = PrecomputedLogits(self.decode_logits(z, batch_size=batch_size))
            if not np.isfinite(network.logits).all():
                raise ValueError(NOT_FINITE)
            if not beam_width:
                return engine.decode_ids(network.logits, greedy=greedy, temperature=temperature, seed=seed)
        if beam_width:
            return masked_beam_search(engine, network, z, self.max_len, beam_width)
        return masked_generate(engine, network, z, self.max_len, greedy=greedy, temperature=temperature,
                               seed=seed)

    def engine(self, avoid_rings: str | None = None):
        """The masked decoder (`decoder_engine`), or one that also avoids closing rings of the
        sizes named ("4,8+": 4-rings and rings of 8 or more atoms; None or "none": the plain
        one), made once per preference. ValueError for a bad size, or for a plain-text model."""
        if avoid_rings in (None, "none"):
            return self.decoder_engine
        if avoid_rings not in self._engines:
            self._engines[avoid_rings] = self.language.decoder(self.grammar, avoid_rings=avoid_rings)
        return self._engines[avoid_rings]

    @property
    def default_avoid_rings(self) -> str:
        """The ring sizes prior samples avoid by default: "4,8+" for molecules (the model
        card measures it), "none" for a plain-text model."""
        return self.language.sample_avoid_rings

    def decode_logits(self, z, batch_size: int = 256) -> np.ndarray:
        """The decoder network's production logits (n, max_len, n_productions), unmasked; for
        the autoregressive decoder, those along its greedy (unmasked) path."""
        z = self._points(z)
        return np.asarray(VAE.decode(self, z, batch_size=batch_size))

    def step_logits(self, X: np.ndarray, z, batch_size: int = 256) -> np.ndarray:
        """The logits each step of the derivations X (n, max_len) is chosen from at latent
        points z: for the autoregressive decoder, fed the true earlier productions (teacher
        forcing); for the one-shot decoder, `decode_logits(z)`."""
        if not self.autoregressive:
            return self.decode_logits(z, batch_size=batch_size)
        from keras import ops

        z = self._points(z)
        return np.concatenate([ops.convert_to_numpy(self.decoder(z[i:i + batch_size], self.one_hot(X[i:i + batch_size])))
                               for i in range(0, len(z), batch_size)]) if len(z) else np.zeros(
            (0, X.shape[1], self.grammar.n_productions), dtype="float32")

    def with_prior(self, smiles: Sequence[str], size: int = 5000, scale: float = 3.0, seed: int = 0,
                   progress=None) -> "GrammarVAE":
        """The same model with an aggregate-posterior prior, which `sample` then draws from:
        the posteriors q(z|x) of `size` molecules drawn at random from `smiles` (those that
        encode), each widened by `scale` (`vae_core.priors.AggregatePosterior`; the model card
        measures scales). It is saved with the model.

            >>> model = GrammarVAE.pretrained("moses").with_prior(training_smiles, size=5000)
        """
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        picked = [smiles[i] for i in np.sort(np.random.default_rng(seed).permutation(len(smiles))[:size])]
        res, _ = self._encode_smiles(picked, None, None)
        if not res.ok.any():
            raise ValueError("none of the molecules given to fit the prior encode")
        means, log_vars = self.encode_ids(res.X[res.ok], progress=progress, return_log_var=True)
        fitted = self._rebuilt(prior_size=len(means), prior_scale=float(scale))
        fitted.prior.fit(means, log_vars, seed)
        return fitted

    def without_prior(self) -> "GrammarVAE":
        """The same network with no fitted prior (`sample` then draws from N(0, I)): what
        training starts from, since a prior's bank belongs to the weights it was fitted with."""
        return self if self.prior is None else self._rebuilt(prior_size=None)

    def _rebuilt(self, **config) -> "GrammarVAE":
        """A model of this config with `config`'s changes to the prior, holding this network's weights."""
        other = GrammarVAE.from_config({**self.get_config(), **config})
        for old, new in zip(self._network_weights(), other._network_weights()):
            new.assign(old)
        return other

    def _network_weights(self) -> list:
        """The weights of the network, the prior's bank left out."""
        bank = set() if self.prior is None else {id(w) for w in self.prior.weights}
        return [w for w in self.weights if id(w) not in bank]

    def latent_stream(self, prior: str | None = None, seed: int = 0) -> Callable[[int], np.ndarray]:
        """take(k): the next k latent points of one seeded stream from `prior`: "aggregate"
        (the fitted `with_prior`), "normal" (N(0, I)), or None for the model's default (the
        aggregate posterior where one is fitted)."""
        prior = self.default_prior if prior is None else prior
        if prior == "normal":
            return normal_stream(self.latent_dim, seed)
        if prior != "aggregate":
            raise ValueError(f"prior must be 'aggregate' or 'normal', got {prior!r}")
        if self.prior is None:
            raise ValueError("this model has no fitted prior (GrammarVAE.with_prior): sample from the normal prior")
        return self.prior.stream(seed)

    @property
    def default_prior(self) -> str:
        """"aggregate" when a prior is fitted, else "normal"."""
        return "normal" if self.prior is None else "aggregate"

    def sample(self, n: int, seed: int = 0, greedy: bool = True, temperature: float = 1.0,
               beam_width: int | None = None, filters: Sequence[str] | None = None,
               prior: str | None = None, avoid_rings: str | None = None) -> list[str]:
        """n molecules decoded (as `decode` does) from latent points drawn from `prior` (see
        `latent_stream`: the fitted aggregate posterior by default where there is one, else
        N(0, I)); the same seed gives the same molecules. Rings of the sizes `avoid_rings`
        names are closed only where nothing else may be written (None: the model's
        `default_avoid_rings`, "4,8+" for molecules; "none": no preference). With `filters`
        (names in `grammarvae.filters.FILTERS`, or "all"), only molecules that pass them, drawn
        in rounds of n points until n are found or DRAW_ROUNDS rounds have been drawn (fewer then)."""
        if not filters:
            return [s for part in self.sample_chunks(n, seed, greedy, temperature, beam_width, prior=prior,
                                                     avoid_rings=avoid_rings) for s in part]
        take = self.latent_stream(prior, seed)
        avoid_rings = self.default_avoid_rings if avoid_rings is None else avoid_rings

        def draw() -> list[str]:
            return self.decode(take(n), greedy=greedy, temperature=temperature, seed=seed, beam_width=beam_width,
                               avoid_rings=avoid_rings)

        return _gather(draw, n, _passing(filters))

    def sample_chunks(self, n: int, seed: int = 0, greedy: bool = True, temperature: float = 1.0,
                      beam_width: int | None = None, chunk: int = 8 * DECODE_CHUNK, prior: str | None = None,
                      avoid_rings: str | None = None):
        """`sample(n, seed)`'s molecules, in order, as lists of at most `chunk` (a multiple of
        DECODE_CHUNK): memory does not grow with n, so n can be any size."""
        if chunk % DECODE_CHUNK:
            raise ValueError(f"chunk must be a multiple of {DECODE_CHUNK}, got {chunk}")
        take = self.latent_stream(prior, seed)  # drawn a chunk at a time: the same stream as all at once
        avoid_rings = self.default_avoid_rings if avoid_rings is None else avoid_rings
        self.engine(avoid_rings)  # a bad preference is refused before any work
        for start in range(0, n, chunk):
            z = take(min(chunk, n - start))
            yield self.decode(z, greedy=greedy, temperature=temperature, seed=seed + start, beam_width=beam_width,
                              avoid_rings=avoid_rings)

    def sample_around(self, smiles: str, n: int = 20, scale: float = 2.0, seed: int = 0,
                      greedy: bool = True, beam_width: int | None = None, distinct: bool = False,
                      filters: Sequence[str] | None = None, avoid_rings: str | None = None) -> list[str]:
        """n molecules decoded from z = mean + scale * std * eps, eps ~ N(0, I), where mean and
        std are those of q(z|smiles): the radius is in the molecule's own posterior standard
        deviations (1 draws from the encoder's posterior itself; the default 2 reaches twice as
        far, to molecules that differ from it but resemble it). Decoded greedily, sampled, or
        by a beam of `beam_width`, as in `decode`. With `distinct`, only molecules other than
        `smiles` and each other; with `filters`, only those that pass them (as in `sample`).
        `avoid_rings` as in `decode` (by default none: neighbours keep the rings of their molecule)."""
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a finite number >= 0, got {scale}")
        self.engine(avoid_rings)
        mean, log_var = self.encode_ids(self.to_ids([smiles]), return_log_var=True)
        rng = np.random.default_rng(seed)

        def draw() -> list[str]:
            z = mean[0] + scale * np.exp(0.5 * log_var[0]) * rng.standard_normal((n, self.latent_dim)).astype("float32")
            return self.decode(z, greedy=greedy, seed=seed, beam_width=beam_width, avoid_rings=avoid_rings)

        accept = _passing(filters)
        if distinct:
            seen, passes = {self.language.canonical(smiles)}, accept

            def accept(s: str) -> bool:
                if s in seen or not passes(s):
                    return False
                seen.add(s)
                return True

        return _gather(draw, n, accept)

    def interpolate(self, start: str, end: str, steps: int = 8, beam_width: int | None = None) -> list[str]:
        """Decodes along the straight line from encode(start) to encode(end), both ends included:
        greedy, or the most likely molecule a beam of `beam_width` finds (which gives more
        molecules back at the ends: see the model card)."""
        if steps < 2:
            raise ValueError("steps must be at least 2")
        za, zb = self.encode([start, end])
        w = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        return self.decode((1 - w) * za + w * zb, beam_width=beam_width)

    @staticmethod
    def draw(smiles: Sequence[str], path: str | Path, legends: Sequence[str] | None = None,
             mols_per_row: int | None = None, size: int = 250) -> Path:
        """RDKit grid image of molecules; PNG or SVG by the file's suffix; near square
        unless `mols_per_row` is given (100 molecules: 10 x 10)."""
        from grammarvae.chem import grid_image

        return grid_image(smiles, path, legends=legends, mols_per_row=mols_per_row, size=size)

    def with_max_len(self, max_len: int) -> "GrammarVAE":
        """The same network and weights reading derivations of up to `max_len` steps (more
        than now: a model of short molecules warm-starts one of longer ones). Only the
        encoder's dense layer changes shape: its convolutions read the longer sequence, and
        the rows for the added positions start at zero, so every derivation that fitted
        before encodes to exactly the same latents (padding past the old end is unseen).

            >>> zinc = GrammarVAE.pretrained().with_max_len(277)
        """
        if int(max_len) < self.max_len:
            raise ValueError(f"max_len can only grow: the model reads {self.max_len} steps, asked {max_len}")
        if int(max_len) == self.max_len:
            return self
        grown = GrammarVAE.from_config({**self.get_config(), "max_len": int(max_len)})
        for old, new in zip(self.weights, grown.weights):
            value = keras.ops.convert_to_numpy(old)
            if tuple(old.shape) != tuple(new.shape):  # the flattened conv features: (steps x filters, dense)
                value = np.concatenate([value, np.zeros((new.shape[0] - old.shape[0], *old.shape[1:]), value.dtype)])
            new.assign(value)
        return grown

    # ------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: str | Path) -> "GrammarVAE":
        """Load a saved model in safe mode; a clear error when the file is not a GrammarVAE."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        if path.suffix != ".keras":
            raise ValueError(f"{path}: not a grammarvae model (a .keras file saved by GrammarVAE)")
        _check_archive(path)
        try:
            model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as e:  # Keras raises many types for a bad file
            raise ValueError(f"{path}: not a grammarvae model ({type(e).__name__}: {e})"[:500]) from None
        if not isinstance(model, cls):
            raise ValueError(f"{path}: a {type(model).__name__}, not a GrammarVAE")
        return model

    @classmethod
    def pretrained(cls, name: str | None = None) -> "GrammarVAE":
        """A model shipped with the package, by name: "zinc" (ZINC-250k: drug-like molecules
        with charges and stereo) or "moses" (MOSES: neutral, 250-350 Da); DEFAULT_MODEL when
        none is named. See data/MODEL_CARD.md.

            >>> GrammarVAE.pretrained("zinc").decode(GrammarVAE.pretrained("zinc").encode("CCO"))
        """
        name = DEFAULT_MODEL if name is None else name
        if name not in PRETRAINED:
            raise ValueError(f"no bundled model named {name!r}; the bundled models are {', '.join(sorted(PRETRAINED))}")
        ref = resources.files("grammarvae.pretrained") / PRETRAINED[name]
        if not ref.is_file():
            raise FileNotFoundError(f"the bundled model {PRETRAINED[name]} is not installed")
        return cls.load(Path(str(ref)))

    @classmethod
    def named(cls, model: str | Path | None = None) -> "GrammarVAE":
        """A bundled model by name ("zinc", "moses"), a saved .keras file, or with None the
        default bundled model: what every command's --model takes."""
        if model is None or str(model) in PRETRAINED:
            return cls.pretrained(None if model is None else str(model))
        return cls.load(model)

    def get_config(self):
        base = keras.Model.get_config(self)
        return {**{k: base[k] for k in ("name", "trainable") if k in base},
                "preset": self.preset, "grammar": self.grammar_name, "grammar_text": self.grammar.cfg_text,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in self.arch.items()},
                "beta": self.beta, "seed": self.seed, "decoder": self.decoder_kind,
                "mmd_weight": self.mmd_weight, "mmd_kernel": self.mmd_kernel,
                "trained_productions": self.trained_productions,
                "prior_size": None if self.prior is None else self.prior.size,
                "prior_scale": 3.0 if self.prior is None else self.prior.scale, "language": self.language.name}

    @classmethod
    def from_config(cls, config):
        """The model a config describes. A saved model holds its grammar's text; a config that
        names its grammar instead may name only one shipped with the package, never a file."""
        if config.get("grammar_text") is None:
            from grammarvae.grammar.cfg import shipped_grammar

            try:
                config = {**config, "grammar_text": shipped_grammar(str(config.get("grammar", "zinc"))).read_text()}
            except FileNotFoundError as e:
                raise ValueError(f"the model's config: {e}") from None
        return cls(**config)
