"""Build a tiny, valid Argos Translate package (``.argosmodel``) offline, for tests.

No ``.argosmodel`` can be downloaded here, so the tests make their own. The package
has exactly the layout argostranslate 1.11 reads (see ``argostranslate/package.py``)::

    translate-en_xx-1_0/               one top-level folder, extracted into ARGOS_PACKAGES_DIR
        metadata.json                  package_version, argos_version, from/to code and name, type
        README.md
        sentencepiece.model            the tokenizer (a real SentencePiece BPE model, trained here)
        model/                         a CTranslate2 Transformer (model.bin, config.json, vocabulary)
        minisbd/sbd.onnx               the sentence splitter argostranslate runs before translating

The CTranslate2 model is not trained: its weights are set by hand so that it *copies*
its input (one layer; the decoder's cross-attention looks at the source position equal
to its own, through the position encodings). Argos therefore "translates" a sentence made
of pieces the tokenizer knows into itself, which makes the whole install → load → split
sentences → tokenize → CTranslate2 → detokenize path checkable with an exact string.

Sentence splitting: argostranslate 1.11 splits text with MiniSBD (an ONNX model) unless
the package ships a Stanza folder. A package's own ``minisbd/*.onnx`` is used as is; without
one MiniSBD downloads a model, and Stanza always fetches ``resources.json`` — neither works
offline. So the package ships ``minisbd/sbd.onnx``: a one-node ONNX graph (a table lookup
per character: ``.``, ``!`` and ``?`` end a sentence) written here as raw protobuf bytes,
because the ``onnx`` package is not a dependency.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import string
import struct
import zipfile
from pathlib import Path

import numpy as np

#: What the tokenizer learns from: a few hundred words of support-chat English.
CORPUS = """\
Hello, where is my order? I placed it last week and it has not arrived yet.
Your order ships within two business days. You can track it from the link in your confirmation email.
Can I return an item that does not fit? Yes, you can return any item within thirty days of delivery.
How much does shipping cost? Shipping is free on orders over fifty euros, otherwise it costs five euros.
Do you ship to my country? We deliver to most countries in Europe, North America and Asia.
How long does a refund take? Refunds reach your account five to ten business days after we receive the return.
I want to change my delivery address. Please write to us before the order ships and we will update it.
My package arrived damaged. We are sorry! Send us a photo and we will send a replacement right away.
Which payment methods do you accept? We accept cards, bank transfer and most digital wallets.
Can I cancel my order? You can cancel an order until it leaves our warehouse.
Where can I find the size guide? Every product page has a size guide under the size selector.
Do I have to pay customs duties? Orders shipped outside the union may be charged duties by your country.
How do I reset my password? Use the link on the login page and follow the email we send you.
Is gift wrapping available? Yes, choose gift wrapping at checkout for a small fee.
Can I get an invoice with tax? Every order comes with an invoice; add your tax number at checkout.
What are your contact hours? Our team answers messages from Monday to Friday, nine to six.
Thank you for your help! You are welcome, have a great day.
Hi there. Good morning. Good evening. Thanks a lot. Please wait a moment while I check.
"""

#: Characters the sentence splitter knows (others map to <UNK> and never end a sentence).
SBD_CHARS = string.ascii_letters + string.digits + string.punctuation + " "
SENTENCE_END = ".!?"

POSITIONS = 512  # longest sentence (in pieces, plus </s>) the copy model handles
FREQUENCIES = 16  # sinusoid pairs in the position encodings


def build_tiny_argos_package(
    tmpdir: str | Path,
    from_code: str = "en",
    to_code: str = "xx",
    *,
    from_name: str = "English",
    to_name: str = "Tiny Test",
    sbd: str | None = "minisbd",
) -> Path:
    """Write ``translate-<from>_<to>-1_0.argosmodel`` into ``tmpdir`` and return its path.

    ``sbd`` picks the sentence splitter the package carries: ``"minisbd"`` (``minisbd/sbd.onnx``,
    works offline), ``None`` (nothing: argostranslate then uses the MiniSBD model cache,
    ``$XDG_DATA_HOME/argos-translate/minisbd/<lang>.onnx``, see ``write_minisbd_model``) or
    ``"stanza"`` (an empty placeholder ``stanza/`` folder, as the packages of the public index have a
    Stanza model there: argostranslate then picks Stanza unless ``ARGOS_CHUNK_TYPE=MINISBD``).
    """
    if sbd not in ("minisbd", "stanza", None):
        raise ValueError(f"sbd must be 'minisbd', 'stanza' or None, not {sbd!r}")
    tmpdir = Path(tmpdir)
    name = f"translate-{from_code}_{to_code}-1_0"
    build = tmpdir / f"{name}.build"
    shutil.rmtree(build, ignore_errors=True)
    root = build / name
    (root / "model").mkdir(parents=True)

    metadata = {
        "package_version": "1.0",
        "argos_version": "1.11",
        "from_code": from_code,
        "from_name": from_name,
        "to_code": to_code,
        "to_name": to_name,
        "type": "translate",
        "links": [],
    }
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2), "utf-8")
    (root / "README.md").write_text(
        f"# {from_name} -> {to_name} (test package)\n\nAn untrained copy model built by tests/argos_tiny.py.\n",
        "utf-8",
    )
    pieces = train_sentencepiece(root / "sentencepiece.model")
    build_copy_model(root / "model", pieces)
    if sbd == "minisbd":
        write_minisbd_model(root / "minisbd" / "sbd.onnx", lang=from_code)
    elif sbd == "stanza":
        (root / "stanza").mkdir(exist_ok=True)
        (root / "stanza" / "PLACEHOLDER").write_text("no Stanza model: tests only check which splitter is picked\n")

    archive = tmpdir / f"{name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, Path(name) / path.relative_to(root))
    return archive


# --------------------------------------------------------------------------- tokenizer


def train_sentencepiece(path: Path, vocab_size: int = 160) -> list[str]:
    """Train a small BPE SentencePiece model on ``CORPUS``; returns its pieces (id order)."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(path))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


# --------------------------------------------------------------------------- translation model


def _frequencies() -> np.ndarray:
    """Sinusoid frequencies from 2 rad down to one turn per 2*POSITIONS steps."""
    return np.geomspace(2.0, math.pi / POSITIONS, FREQUENCIES)


def _position_table(dim: int, vocab: int) -> np.ndarray:
    """Learned-style position encodings: (cos, sin, -cos, -sin) per frequency after the token block."""
    t = np.arange(POSITIONS, dtype=np.float64)[:, None]
    angles = t * _frequencies()[None, :]
    table = np.zeros((POSITIONS, dim))
    base = 2 * vocab
    table[:, base + 0 : base + 4 * FREQUENCIES : 4] = np.cos(angles)
    table[:, base + 1 : base + 4 * FREQUENCIES : 4] = np.sin(angles)
    table[:, base + 2 : base + 4 * FREQUENCIES : 4] = -np.cos(angles)
    table[:, base + 3 : base + 4 * FREQUENCIES : 4] = -np.sin(angles)
    return table


def _min_position_gap() -> float:
    """min over d != 0 of sum_k (1 - cos(w_k d)): how much worse the best wrong position matches."""
    d = np.arange(1, POSITIONS, dtype=np.float64)[:, None]
    return float((1 - np.cos(d * _frequencies()[None, :])).sum(axis=1).min())


def copy_model_weights(pieces: list[str]) -> dict[str, np.ndarray]:
    """The hand-set weights of a 1-layer pre-norm Transformer that copies its source.

    Every vector holds each feature twice, with opposite signs, so its mean is 0 and
    LayerNorm only rescales it (by the same factor at every position):

    * token block ``[0, 2V)``: ``+e_i`` and ``-e_i`` for token ``i``;
    * position block: ``(cos, sin, -cos, -sin)(w_k t)`` for ``FREQUENCIES`` frequencies.

    Encoder: all sublayers output 0, so it returns (normalised) embedding + position.
    Decoder: self-attention and FFN output 0; cross-attention queries and keys keep only the
    position block, so step ``t`` attends to source position ``t`` (dot products of the
    sinusoids peak at equal positions); values keep the token block, scaled up so the copied
    source token outweighs the decoder's own input token; the output projection reads the
    token block. With ``add_source_eos`` the source ends in ``</s>``, which is copied last.
    """
    vocab = len(pieces)
    dim = 2 * vocab + 4 * FREQUENCIES
    dim += -dim % 16
    hidden = 16
    eps = 1e-6

    # Norms of the two kinds of input vector: token (+1, -1) and positions (cos^2 + sin^2 = 1, twice).
    c = 1 / math.sqrt((2 + 2 * FREQUENCIES) / dim + eps)  # LayerNorm scale of embedding + position
    emb = np.zeros((vocab, dim))
    emb[np.arange(vocab), np.arange(vocab)] = 1
    emb[np.arange(vocab), vocab + np.arange(vocab)] = -1

    token = np.zeros((dim, dim))
    token[np.arange(2 * vocab), np.arange(2 * vocab)] = 1
    position = np.zeros((dim, dim))
    pos_idx = 2 * vocab + np.arange(4 * FREQUENCIES)
    position[pos_idx, pos_idx] = 1

    # Attention score gap between the right source position and any other: want >= 40 (after 1/sqrt(dim)).
    alpha = 40 * math.sqrt(dim) / (2 * c * c * _min_position_gap())
    beta = 4 / c  # the copied token enters the residual with weight 4 (the decoder's own token: 1)
    # Final LayerNorm scale of the decoder state: token 1 and 4 (pairs) + positions.
    c_out = 1 / math.sqrt((2 * (1 + 16) + 2 * FREQUENCIES) / dim + eps)
    gamma = 40 / (2 * 3 * c_out)  # logit gap of >= 40 between the copied token and the runner-up
    proj = np.zeros((vocab, dim))
    proj[np.arange(vocab), np.arange(vocab)] = gamma
    proj[np.arange(vocab), vocab + np.arange(vocab)] = -gamma

    zeros_qkv = np.zeros((3 * dim, dim))
    return {
        "dim": np.array(dim),
        "hidden": np.array(hidden),
        "embeddings": emb,
        "positions": _position_table(dim, vocab),
        "self_qkv": zeros_qkv,
        "zero_out": np.zeros((dim, dim)),
        "ffn_in": np.zeros((hidden, dim)),
        "ffn_out": np.zeros((dim, hidden)),
        "cross_q": alpha * position,
        "cross_kv": np.concatenate([position, token]),
        "cross_out": beta * token,
        "projection": proj,
    }


def build_copy_model(model_dir: Path, pieces: list[str]) -> None:
    """Save the copy Transformer (``copy_model_weights``) as a CTranslate2 model in ``model_dir``."""
    import ctranslate2
    from ctranslate2.specs import transformer_spec

    w = {k: v.astype(np.float32) for k, v in copy_model_weights(pieces).items()}
    dim = int(w["dim"])

    def norm(spec) -> None:
        spec.gamma = np.ones(dim, np.float32)
        spec.beta = np.zeros(dim, np.float32)

    def ffn(spec) -> None:
        norm(spec.layer_norm)
        spec.linear_0.weight = w["ffn_in"]
        spec.linear_1.weight = w["ffn_out"]

    spec = transformer_spec.TransformerSpec.from_config(1, 1)
    spec.config.add_source_eos = True
    spec.config.layer_norm_epsilon = 1e-6

    enc, dec = spec.encoder, spec.decoder
    enc.scale_embeddings = False
    dec.scale_embeddings = False
    enc.embeddings[0].weight = w["embeddings"]
    dec.embeddings.weight = w["embeddings"]
    enc.position_encodings.encodings = w["positions"]
    dec.position_encodings.encodings = w["positions"]

    layer = enc.layer[0]
    norm(layer.self_attention.layer_norm)
    layer.self_attention.linear[0].weight = w["self_qkv"]
    layer.self_attention.linear[1].weight = w["zero_out"]
    ffn(layer.ffn)
    norm(enc.layer_norm)

    layer = dec.layer[0]
    norm(layer.self_attention.layer_norm)
    layer.self_attention.linear[0].weight = w["self_qkv"]
    layer.self_attention.linear[1].weight = w["zero_out"]
    norm(layer.attention.layer_norm)
    layer.attention.linear[0].weight = w["cross_q"]
    layer.attention.linear[1].weight = w["cross_kv"]
    layer.attention.linear[2].weight = w["cross_out"]
    ffn(layer.ffn)
    norm(dec.layer_norm)
    dec.projection.weight = w["projection"]

    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.validate()
    spec.optimize(quantization=None)
    model_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(model_dir))
    assert ctranslate2.contains_model(str(model_dir)), model_dir


# --------------------------------------------------------------------------- sentence splitter


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    """One protobuf field: an int (varint) or bytes/str (length-delimited)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    """onnx.ValueInfoProto: name, TypeProto.Tensor(elem_type, shape)."""
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in dims)
    tensor_type = _field(1, elem_type) + _field(2, shape)
    return _field(1, name) + _field(2, _field(1, tensor_type))


def minisbd_vocab() -> list[str]:
    return ["<PAD>", "<UNK>", *SBD_CHARS]


def write_minisbd_model(path: Path, lang: str = "en") -> Path:
    """Write a MiniSBD-compatible ONNX model: ``logits = table[units]`` (Gather), one row per character.

    MiniSBD feeds ``units`` (int64 [batch, chars]) and ``features`` (float [batch, chars, feats])
    and reads the argmax over 5 classes per character (2 = ends a sentence). Its settings
    (config, vocabulary) travel in the model's metadata, as in the real MiniSBD models.
    """
    units = minisbd_vocab()
    table = np.zeros((len(units), 5), np.float32)
    table[:, 0] = 1.0
    for ch in SENTENCE_END:
        table[units.index(ch)] = [0, 0, 1, 0, 0]

    FLOAT, INT64 = 1, 7
    initializer = (
        b"".join(_field(1, d) for d in table.shape)
        + _field(2, FLOAT)
        + _field(8, "table")
        + _field(9, struct.pack(f"<{table.size}f", *table.ravel()))
    )
    node = _field(1, "table") + _field(1, "units") + _field(2, "logits") + _field(3, "lookup") + _field(4, "Gather")
    graph = (
        _field(1, node)
        + _field(2, "minisbd-test")
        + _field(5, initializer)
        + _field(11, _value_info("units", INT64, ["batch", "chars"]))
        + _field(11, _value_info("features", FLOAT, ["batch", "chars", "feats"]))
        + _field(12, _value_info("logits", FLOAT, ["batch", "chars", 5]))
    )
    config = {
        "skip_newline": False,
        "max_seqlen": 1000,
        "no_ssplit": False,
        "batch_size": 32,
        "feat_funcs": ["space_before"],
        "use_dictionary": False,
        "num_dict_feat": 0,
    }
    vocab = {
        "lang": lang,
        "idx": 0,
        "cutoff": 0,
        "lower": False,
        "_id2unit": units,
        "_unit2id": {u: i for i, u in enumerate(units)},
    }
    meta = {"lang_code": lang, "config": json.dumps(config), "vocab": json.dumps(vocab), "lexicon": "null"}
    model = (
        _field(1, 8)  # ir_version
        + _field(2, "borderless-tests")
        + _field(8, _field(1, "") + _field(2, 13))  # opset ai.onnx 13
        + _field(7, graph)
        + b"".join(_field(14, _field(1, k) + _field(2, v)) for k, v in meta.items())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    return path
