"""Fine-tuning a sentence-transformers encoder on the moments' examples (CPU, 2 cores).

The recipe: mean-pooled all-MiniLM-L6-v2 under a cosine-softmax head (class prototypes
initialised from the frozen embeddings' class centroids, so the first steps already point
the right way), cross-entropy with label smoothing and R-Drop (two dropout passes a batch,
kept in agreement), AdamW with linear warm-up and decay.
Batches are bucketed by token length so that short messages are not padded to the longest
one in the data set: on short customer messages this roughly halves the cost of an epoch,
which is what makes a full fine-tune fit the benchmark's 15 minutes on two cores.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


PRECISIONS = ("auto", "bfloat16", "float32")

#: The fine-tune's closing log line: steps run, steps scheduled, seconds, precision.
FINISHED = re.compile(r"fine-tune finished: (\d+) of (\d+) steps in (\d+) s, (\w+)")


@dataclass(frozen=True)
class FineTuneSettings:
    """Hyper-parameters of the fine-tune (chosen on validation data, see ADR 0007)."""

    # A gentle recipe for any size (chosen on validation, ADR 0007): against batch 32, encoder
    # learning rate 1e-4 and scale 24 (chosen on BANKING77 before), it is as good on
    # BANKING77 and better with few examples a moment, where the sharper one lost to the
    # frozen encoder (CLINC150 at 10 a moment, validation: 89.1% against 84.3%; frozen
    # 87.3%).
    epochs: float = 4.0
    batch_size: int = 16
    learning_rate: float = 3e-5        # encoder (its top layer under layer_decay)
    head_learning_rate: float = 3e-3   # class prototypes
    scale: float = 12.0                # cosine-softmax inverse temperature during training
    label_smoothing: float = 0.1
    # R-Drop (Liang et al. 2021): each batch passes twice, under different dropout, and this
    # weight times the symmetric KL divergence between the two predictions joins the loss.
    # On BANKING77's validation split (three seeds, ADR 0007) 94.68% against 94.30%, for
    # 1.65x the time a step; 0 turns it off.
    rdrop: float = 1.0
    # With R-Drop: the share of words hidden from the second pass (its attention mask), so
    # the two predictions agree under input noise as well as dropout; 0 = none. Off: 0.1
    # gained on BANKING77 (validation 95.14% against 94.47%, test 94.01% against 93.72%,
    # seeds 0-2) but lost on CLINC150 at 10 examples a moment, the live-bot regime
    # (validation, two seeds: 85.61 / 85.61% against 86.71 / 87.10%; ADR 0007).
    token_dropout: float = 0.0
    # Layer-wise learning-rate decay: transformer layer i of n learns at
    # learning_rate * layer_decay ** (n - 1 - i), the embeddings at layer_decay ** n; 1 = none.
    # Off: 0.8 with learning_rate 5e-5 gained on BANKING77's validation split (94.84% against
    # 94.47%, seeds 0-2) but not on its test split, and the first-turn sets lost a little on
    # five of six (ADR 0007).
    layer_decay: float = 1.0
    warmup: float = 0.06               # fraction of the steps
    weight_decay: float = 0.01
    max_seq_length: int = 64
    freeze_word_embeddings: bool = True  # 11.7M of the 22.7M weights; AdamW on them is slow
    seed: int = 0
    # "bfloat16": the encoder's forward pass under bfloat16 autocast (2.5x the examples a
    # second on one core with avx512_bf16: 193 against 78); "float32"; "auto": bfloat16
    # where the CPU computes it natively, else float32 (emulated bfloat16 is slower)
    precision: str = "auto"
    time_budget: float = 0.0           # seconds; 0 = none (else the schedule ends on time)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"fine_tune_precision must be one of {', '.join(PRECISIONS)}, "
                             f"not {self.precision!r}")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FineTuneSettings:
        """Settings from the component's ``fine_tune_<field>`` options; others are ignored."""
        prefix = "fine_tune_"
        known = cls.__dataclass_fields__
        return cls(**{key[len(prefix):]: value for key, value in config.items()
                      if key.startswith(prefix) and key[len(prefix):] in known})


def length_buckets(lengths: np.ndarray, batch_size: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices of similar length, in random order.

    Args:
        lengths: (n,) token counts.
        batch_size: rows per batch.
        rng: source of the shuffle; a little noise on the lengths varies batches per epoch.

    Returns:
        Index arrays covering every row exactly once.
    """
    noisy = lengths + rng.uniform(0.0, 3.0, size=len(lengths))
    order = np.argsort(noisy, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


def class_centroids(x: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    """(classes, d) float32 L2-normalised mean embedding of each class (random if empty)."""
    centroids = np.random.default_rng(0).normal(size=(classes, x.shape[1])).astype(np.float32)
    for label in range(classes):
        members = x[y == label]
        if len(members):
            centroids[label] = members.mean(axis=0)
    return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


def _tokenize(model: Any, texts: Sequence[str], max_seq_length: int) -> list[list[int]]:
    tokenizer = model.tokenizer
    encoded = tokenizer(list(texts), truncation=True, max_length=max_seq_length,
                        add_special_tokens=True)
    return [list(ids) for ids in encoded["input_ids"]]


def _batch_features(ids: list[list[int]], rows: np.ndarray, pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids[i]) for i in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, i in enumerate(rows):
        input_ids[j, : len(ids[i])] = torch.tensor(ids[i])
        mask[j, : len(ids[i])] = 1
    return {"input_ids": input_ids, "attention_mask": mask,
            "token_type_ids": torch.zeros_like(input_ids)}


LAYER = re.compile(r"\.layer\.(\d+)\.")


def layer_factors(names: Sequence[str], decay: float) -> list[float]:
    """Learning-rate factor of each named encoder parameter under layer-wise decay.

    Transformer layer i of n gets ``decay ** (n - 1 - i)``; parameters below the layers
    (embeddings) ``decay ** n``; parameters above them (a pooler) 1.
    """
    layers = [int(m.group(1)) if (m := LAYER.search(n)) else None for n in names]
    depth = 1 + max((i for i in layers if i is not None), default=-1)
    return [decay ** (depth - 1 - i) if i is not None
            else decay ** depth if "embeddings" in name else 1.0
            for name, i in zip(names, layers, strict=True)]


def _optimizer(model: Any, head: Any, settings: FineTuneSettings) -> Any:
    import torch

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    factors = layer_factors([n for n, _ in named], settings.layer_decay)
    groups: dict[tuple[float, bool], list[Any]] = {}
    for (name, parameter), factor in zip(named, factors, strict=True):
        decays = not ("bias" in name or "LayerNorm" in name)
        groups.setdefault((factor, decays), []).append(parameter)
    optimizer = torch.optim.AdamW([
        *({"params": params, "lr": settings.learning_rate * factor,
           "weight_decay": settings.weight_decay if decays else 0.0}
          for (factor, decays), params in groups.items()),
        {"params": [head], "lr": settings.head_learning_rate, "weight_decay": 0.0},
    ])
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]
    return optimizer


def schedule(progress: float, warmup: float) -> float:
    """Learning-rate factor at ``progress`` in [0, 1]: linear warm-up, then linear decay."""
    if progress < warmup:
        return max(progress / warmup, 1e-3)
    return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - warmup))


class Progress:
    """How far training is: the larger of steps done and time budget used, in [0, 1].

    With a time budget the learning rate still decays to zero when the budget runs out, so a
    slow (busy) machine trains fewer steps instead of stopping half-way up the schedule.
    """

    def __init__(self, steps: int, budget: float) -> None:
        self.steps, self.budget, self.step = steps, budget, 0
        self.started = time.monotonic()

    @property
    def value(self) -> float:
        by_steps = self.step / self.steps
        if not self.budget:
            return by_steps
        return max(by_steps, (time.monotonic() - self.started) / self.budget)


def freeze_word_embeddings(model: Any) -> None:
    for name, parameter in model.named_parameters():
        if "word_embeddings" in name:
            parameter.requires_grad_(False)


def fine_tune(model: Any, texts: Sequence[str], y: np.ndarray, classes: int,
              initial_embeddings: np.ndarray, settings: FineTuneSettings,
              rows: np.ndarray | None = None) -> np.ndarray:
    """Fine-tunes ``model`` (a SentenceTransformer) in place under a cosine-softmax head.

    Args:
        model: the encoder; its output ``sentence_embedding`` is mean-pooled.
        texts: n training messages.
        y: (n,) int labels in [0, classes).
        classes: number of moments.
        initial_embeddings: (n, d) float32 frozen embeddings, for the head's initial prototypes.
        settings: hyper-parameters.
        rows: which rows of ``initial_embeddings`` are filled in (default: all).

    Returns:
        (classes, d) float32 L2-normalised class prototypes of the trained head.
    """
    import torch

    torch.manual_seed(settings.seed)
    if settings.freeze_word_embeddings:
        freeze_word_embeddings(model)
    rows = np.arange(len(y)) if rows is None else rows
    centroids = class_centroids(initial_embeddings[rows], np.asarray(y)[rows], classes)
    head = torch.nn.Parameter(torch.from_numpy(centroids))
    steps = max(1, int(settings.epochs * math.ceil(len(texts) / settings.batch_size)))
    model.train()
    _train(model, head, _tokenize(model, texts, settings.max_seq_length), y, settings,
           Progress(steps, settings.time_budget))
    model.eval()
    prototypes = torch.nn.functional.normalize(head.detach(), dim=-1).numpy()
    return np.ascontiguousarray(prototypes, dtype=np.float32)


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (Linux CPU flags avx512_bf16 or amx_bf16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def uses_bfloat16(precision: str) -> bool:
    """Whether the fine-tune runs the encoder in bfloat16 (see ``FineTuneSettings.precision``)."""
    return precision == "bfloat16" or (precision == "auto" and native_bfloat16())


def drop_tokens(mask: Any, rate: float, generator: Any) -> Any:
    """A copy of a (b, t) attention mask with each word hidden with probability ``rate``:
    never the first and last real tokens ([CLS], [SEP]), and at least one word stays."""
    import torch

    lengths = mask.sum(dim=1, keepdim=True)
    positions = torch.arange(mask.shape[1]).expand_as(mask)
    words = (positions >= 1) & (positions < lengths - 1)
    hidden = words & (torch.rand(mask.shape, generator=generator) < rate)
    # a row that would lose every word keeps its first one
    hidden &= ~((hidden == words).all(dim=1, keepdim=True) & (positions == 1))
    return mask.masked_fill(hidden, 0)


def _loss(loss_fn: Any, logits: Any, targets: Any, rdrop: float) -> Any:
    """Cross-entropy; with ``rdrop``, ``logits`` holds two passes of the batch, and the loss
    is their mean cross-entropy plus ``rdrop`` times their symmetric KL divergence."""
    import torch

    if not rdrop:
        return loss_fn(logits, targets)
    first, second = logits.chunk(2)
    log_p, log_q = first.log_softmax(dim=-1), second.log_softmax(dim=-1)
    kl = torch.nn.functional.kl_div
    divergence = (kl(log_p, log_q, log_target=True, reduction="batchmean")
                  + kl(log_q, log_p, log_target=True, reduction="batchmean")) / 2
    return (loss_fn(first, targets) + loss_fn(second, targets)) / 2 + rdrop * divergence


def _train(model: Any, head: Any, ids: list[list[int]], y: np.ndarray,
           settings: FineTuneSettings, progress: Progress) -> None:
    import torch

    rng = np.random.default_rng(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    lengths = np.array([len(i) for i in ids], dtype=np.float64)
    pad_id = int(model.tokenizer.pad_token_id or 0)
    optimizer = _optimizer(model, head, settings)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    targets = torch.from_numpy(np.asarray(y, dtype=np.int64))
    bfloat16 = uses_bfloat16(settings.precision)
    log.info("fine-tuning in %s", "bfloat16" if bfloat16 else "float32")
    while progress.value < 1.0:
        for rows in length_buckets(lengths, settings.batch_size, rng):
            if progress.value >= 1.0:
                break
            factor = schedule(progress.value, settings.warmup)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            features = _batch_features(ids, rows, pad_id)
            if settings.rdrop:  # the batch twice: dropout differs between the two halves
                features = {name: torch.cat([value, value]) for name, value in features.items()}
                if settings.token_dropout:
                    half = len(rows)
                    features["attention_mask"][half:] = drop_tokens(
                        features["attention_mask"][half:], settings.token_dropout, generator)
            # Only the encoder's forward pass in bfloat16: with the head, the loss and the
            # backward pass under autocast as well, BANKING77's embeddings collapsed onto two
            # classes.
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
                embedding = model(features)["sentence_embedding"]
            embedding = embedding.float()
            logits = settings.scale * torch.nn.functional.normalize(embedding, dim=-1) @ \
                torch.nn.functional.normalize(head, dim=-1).T
            loss = _loss(loss_fn, logits, targets[torch.from_numpy(rows)], settings.rdrop)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            progress.step += 1
            if progress.step % 50 == 0:
                log.info("fine-tune step %d/%d loss %.3f (%.0f s)", progress.step,
                         progress.steps, float(loss.detach()),
                         time.monotonic() - progress.started)
    # One line that says how much of the schedule ran (the benchmark reads it: FINISHED)
    log.info("fine-tune finished: %d of %d steps in %.0f s, %s%s", progress.step,
             progress.steps, time.monotonic() - progress.started,
             "bfloat16" if bfloat16 else "float32",
             ", the time budget ended the schedule" if progress.step < progress.steps else "")
