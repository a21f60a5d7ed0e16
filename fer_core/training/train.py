"""Training loop: soft FER+ vote targets (optionally blended with a teacher's probabilities), class-balanced
sampling, AdamW/SGD with a one-cycle schedule, weight EMA, optional bf16 autocast (fast only on CPUs with
native bf16), a checkpoint every epoch (resumable), and model selection on valid only.

After training, the corrections of `post_hoc` (per-class logit offsets to a recall floor, a temperature) are
fitted on FER2013Valid and folded into the final linear layer.
"""
from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3
from tqdm import tqdm

from fer_core.evaluation.metrics import compute_metrics, predict_logits
from fer_core.evaluation.uncertainty import fit_rule
from fer_core.model.checkpoint import load_model, resolve_model_path, save_checkpoint
from fer_core.model.preprocess import softmax
from fer_core.model.spec import SPECS, ModelSpec, attention_card
from fer_core.training.augment import FaceAugment
from fer_core.training.config import TrainConfig
from fer_core.training.data import FaceDataset, load_dataset
from fer_core.training.post_hoc import fit_class_offsets, fit_temperature, fold_into_classifier, unfold_from_classifier


def _git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], stderr=subprocess.DEVNULL, text=True).strip()
    except Exception:
        return "unknown"


def _soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    if smoothing:
        target = target * (1 - smoothing) + smoothing / target.shape[1]
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def native_bf16() -> bool:
    """Whether this CPU runs bf16 natively (AVX512-BF16 or AMX). Without it, bf16 autocast is emulated and a
    training step took 12 s instead of 0.5 s (AMD EPYC with AVX2 only, torch 2.14)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def _sample_weights(labels: np.ndarray, power: float) -> torch.Tensor:
    counts = np.bincount(labels, minlength=labels.max() + 1).astype(np.float64)
    w = counts[labels] ** -power
    return torch.from_numpy(w / w.sum())


def draw_weights(labels: np.ndarray, power: float, extra_from: int, extra_weight: float) -> torch.Tensor:
    """How often each training face is drawn: class-balanced (`_sample_weights`), and the extra photos (from
    index `extra_from` on) `extra_weight` times as often as a FER2013 face of their class."""
    weights = _sample_weights(labels, power)
    weights[extra_from:] *= extra_weight
    return weights / weights.sum()


def sharpened(targets: np.ndarray, power: float) -> np.ndarray:
    """Soft targets raised to `power` and renormalised: above 1 the majority's share grows (6 of 10 votes for
    sadness and 4 for neutral become 0.69 and 0.31 at power 2), so a face that most people read as a subtle
    expression is not taught as half neutral. One-hot targets stay as they are."""
    if power == 1.0:
        return targets
    raised = np.power(targets, power, dtype=np.float64)
    return (raised / raised.sum(axis=1, keepdims=True)).astype(np.float32)


def mixup(x: torch.Tensor, target: torch.Tensor, alpha: float, p: float,
          rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) on soft targets: one lambda per batch, partners by a random permutation.
    `rng` is seeded per step so a resumed run mixes exactly as an uninterrupted one would."""
    if alpha <= 0 or rng.random() >= p:
        return x, target
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(x.shape[0]))
    return lam * x + (1 - lam) * x[perm], lam * target + (1 - lam) * target[perm]


def photo_crops(folder: str, split: str, size: int) -> FaceDataset:
    """Photos in the folders layout as the app frames their faces (cached under .cache/data)."""
    from fer_core.evaluation.detected_crops import detected_crops
    from fer_core.recognizer import Recognizer

    ds, found = detected_crops(folder, Recognizer(), "folders", split, size, cache_dir=Path(".cache/data"))
    print(f"{folder}: {len(ds)} photos, a face found in {found.mean():.1%}", file=sys.stderr)
    return ds


def concat(a: FaceDataset, b: FaceDataset) -> FaceDataset:
    return FaceDataset(np.concatenate([a.images, b.images]), np.concatenate([a.soft, b.soft]),
                       np.concatenate([a.labels, b.labels]), a.names + b.names)


def _param_groups(model: torch.nn.Module, lr: float, backbone_scale: float) -> list[dict[str, Any]]:
    """Two groups: every layer but the classifier at lr x backbone_scale (a pretrained backbone moves slower
    than its new head), and the classifier at lr."""
    head = list(model.get_classifier().parameters())
    rest = [p for p in model.parameters() if all(p is not h for h in head)]
    return [{"params": rest, "lr": lr * backbone_scale}, {"params": head, "lr": lr}]


def selection_score(rec: dict[str, Any]) -> float:
    """What picks the epoch: FER2013Valid accuracy, or its mean with the extra valid set's."""
    if "extra_valid_accuracy" in rec:
        return (rec["valid_accuracy"] + rec["extra_valid_accuracy"]) / 2
    return rec["valid_accuracy"]


def train(cfg: TrainConfig, command: str = "") -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    use_bf16 = cfg.bf16 and native_bf16()
    if cfg.bf16 and not use_bf16:
        print("this CPU has no native bf16: training in float32", file=sys.stderr)
    spec: ModelSpec = SPECS[cfg.arch]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(".cache/data")
    train_ds = load_dataset(cfg.data, cfg.layout, "train", spec.source_size, cache_dir=cache)
    valid_ds = load_dataset(cfg.data, cfg.layout, "valid", spec.source_size, cache_dir=cache)
    fer_faces = len(train_ds)
    if cfg.extra_train:
        train_ds = concat(train_ds, photo_crops(cfg.extra_train, "", spec.source_size))
    extra_valid = photo_crops(cfg.extra_valid, "", spec.source_size) if cfg.extra_valid else None

    model = spec.create()
    if cfg.init_from:
        model.load_state_dict(initial_weights(cfg.init_from))
    ema = ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=True)
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    groups = _param_groups(model, cfg.lr, cfg.backbone_lr_scale)
    # The landmark loss: (logits, points) from one forward pass, and the frozen Face Mesh's points to match.
    # A model with a landmark head of its own (face_mesh_fer) gives both; a timm ResNet gets a training-only
    # head (fer_core.training.landmark_aux), trained at the classifier's rate and saved only in last.pt.
    with_points = mesh_points = aux = None
    if cfg.landmark_weight > 0:
        from fer_core.model.mesh_net import MeshLandmarkTeacher, landmark_loss

        if hasattr(model, "forward_with_landmarks"):
            with_points, mesh_points = model.forward_with_landmarks, MeshLandmarkTeacher()
        else:
            from fer_core.training.landmark_aux import CnnLandmarkTarget

            aux = CnnLandmarkTarget(model, spec, cfg.landmark_stage)
            with_points, mesh_points = (lambda x: aux.logits_and_points(model, x)), aux.target
            groups[1]["params"] = groups[1]["params"] + list(aux.head.parameters())
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15,
                                                div_factor=20, final_div_factor=200)
    augment = FaceAugment(spec.input_size, scale=cfg.aug_scale, shift=cfg.aug_shift, degrees=cfg.aug_degrees,
                          blur_p=cfg.blur_p)
    gen = torch.Generator().manual_seed(cfg.seed)
    weights = draw_weights(train_ds.labels, cfg.balance_power, fer_faces, cfg.extra_train_weight)
    images = torch.from_numpy(train_ds.images)
    soft = torch.from_numpy(sharpened(distill_targets(train_ds, cfg.teacher, cfg.distill_weight), cfg.vote_power))
    mean, std = torch.tensor(spec.mean).view(1, -1, 1, 1), torch.tensor(spec.std).view(1, -1, 1, 1)

    start_epoch, history, best = 0, [], {"valid_accuracy": -1.0}
    last = out / "last.pt"
    if last.exists():  # resume
        state = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        ema.module.load_state_dict(state["ema"])
        if aux is not None:
            aux.head.load_state_dict(state["aux_head"])
        opt.load_state_dict(state["opt"])
        replan = state["sched"].get("total_steps") != sched.total_steps
        if replan:  # --epochs changed on resume: keep the position, follow the new schedule from here on
            sched.last_epoch, sched._step_count = state["sched"]["last_epoch"], state["sched"]["_step_count"]
            print(f"schedule re-planned for {cfg.epochs} epochs", file=sys.stderr)
        else:
            sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        start_epoch, history, best = state["epoch"], json.loads(state["history"]), json.loads(state["best"])
        print(f"resumed from {last} at epoch {start_epoch}", file=sys.stderr)

    for epoch in range(start_epoch, min(cfg.epochs, cfg.stop_after_epoch or cfg.epochs)):
        model.train()
        if aux is not None:
            aux.head.train()
        t0 = time.time()
        idx = torch.multinomial(weights, steps_per_epoch * cfg.batch_size, replacement=True, generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", mininterval=10, file=sys.stderr)
        loss_sum = 0.0
        for step in bar:
            b = idx[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = augment(images[b].float().div_(255).unsqueeze(1), gen)
            x = (x - mean) / std
            rng = np.random.default_rng([cfg.seed, epoch, step])
            x, target = mixup(x, soft[b], cfg.mixup_alpha, cfg.mixup_p, rng)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                if with_points is None:
                    logits = model(x)
                else:
                    logits, points = with_points(x)
            loss = _soft_cross_entropy(logits, target, cfg.label_smoothing)
            if with_points is not None:
                loss = loss + cfg.landmark_weight * landmark_loss(points.float(), mesh_points(x))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update(model, step=epoch * steps_per_epoch + step + 1)
            loss_sum += loss.item()
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss_sum / (step + 1):.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        ema.module.eval()
        v_logits = predict_logits(ema.module, valid_ds.images, spec)
        vm = compute_metrics(softmax(v_logits), valid_ds.labels)
        rec = {"epoch": epoch + 1, "loss": loss_sum / steps_per_epoch, "valid_accuracy": vm["accuracy"],
               "valid_macro_f1": vm["macro_f1"], "seconds": round(time.time() - t0, 1), "bf16": use_bf16}
        if extra_valid is not None:
            em = compute_metrics(softmax(predict_logits(ema.module, extra_valid.images, spec)), extra_valid.labels)
            rec.update(extra_valid_accuracy=em["accuracy"], extra_valid_macro_f1=em["macro_f1"])
        history.append(rec)
        print(json.dumps(rec), file=sys.stderr, flush=True)
        if selection_score(rec) > best.get("score", best["valid_accuracy"]):
            rec["score"] = selection_score(rec)
            best = dict(rec)
            torch.save({"ema": ema.module.state_dict()}, out / "best.pt")
        torch.save({"model": model.state_dict(), "ema": ema.module.state_dict(), "opt": opt.state_dict(),
                    "sched": sched.state_dict(), "gen": gen.get_state(), "epoch": epoch + 1,
                    "history": json.dumps(history), "best": json.dumps(best),
                    **({"aux_head": aux.head.state_dict()} if aux is not None else {})}, out / "last.pt.tmp")
        (out / "last.pt.tmp").replace(last)

    if cfg.stop_after_epoch and cfg.stop_after_epoch < cfg.epochs:
        print(f"stopped after epoch {cfg.stop_after_epoch}: run again to resume", file=sys.stderr)
        return {"stopped_after_epoch": cfg.stop_after_epoch, "history": history}
    return finalize(cfg, spec, out, valid_ds, history, best, command, extra_valid)


def _is_run_checkpoint(init_from: str) -> bool:
    return Path(init_from).suffix == ".pt"


def initial_weights(init_from: str) -> dict[str, torch.Tensor]:
    """Starting weights for a further cycle: a run's best.pt (EMA weights), or a saved model whose valid-set
    corrections (logit offset, temperature) are taken back out of its final layer, so the cycle starts from
    the network as it was trained."""
    if _is_run_checkpoint(init_from):
        return torch.load(init_from, map_location="cpu", weights_only=True)["ema"]
    loaded = load_model(init_from)
    model = copy.deepcopy(loaded.model)
    unfold_from_classifier(model, loaded.card.get("post_hoc", {}))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def teacher_probabilities(images: np.ndarray, teachers: str) -> np.ndarray:
    """The mean calibrated probabilities of one or more saved models (flip-averaged) on uint8 grey crops."""
    names = [t.strip() for t in teachers.split(",") if t.strip()]
    if not names:
        raise ValueError("--teacher needs at least one model name or path")
    probs = []
    for name in names:
        loaded = load_model(name)
        probs.append(softmax(predict_logits(loaded.model, images, loaded.spec)))
        print(f"teacher {loaded.name}: probabilities for {len(images)} training faces", file=sys.stderr)
    return np.mean(probs, axis=0).astype(np.float32)


def distill_targets(ds: FaceDataset, teachers: str, weight: float) -> np.ndarray:
    """Training targets: the FER+ vote distribution, blended with the teachers' probabilities when asked."""
    if not teachers or weight <= 0:
        return ds.soft
    return ((1 - weight) * ds.soft + weight * teacher_probabilities(ds.images, teachers)).astype(np.float32)


def _base_run_card(init_from: str) -> dict[str, Any]:
    """The card of the model this cycle started from (empty if none): the card a run wrote beside its
    best.pt, or a saved model's own card."""
    if not init_from:
        return {}
    if not _is_run_checkpoint(init_from):
        return json.loads(resolve_model_path(init_from).with_suffix(".json").read_text())
    cards = sorted(Path(init_from).parent.glob("*.json"))
    return json.loads(cards[0].read_text()) if cards else {}


def _training_data(cfg: TrainConfig) -> str:
    """The card's account of what the network was trained on."""
    votes = "soft targets" + (f", shares raised to the power {cfg.vote_power:g}" if cfg.vote_power != 1.0 else "")
    text = f"FER2013Train with FER+ votes ({votes}), 28,385 images after the protocol"
    if cfg.extra_train:
        drawn = (f", each drawn {cfg.extra_train_weight:g}x as often as a FER2013 face"
                 if cfg.extra_train_weight != 1.0 else "")
        text += f", plus {cfg.extra_train} (photos, faces framed by the app's detector, one-hot targets{drawn})"
    return text


def finalize(cfg: TrainConfig, spec: ModelSpec, out: Path, valid_ds: FaceDataset,
             history: list, best: dict, command: str, extra_valid: FaceDataset | None = None) -> dict[str, Any]:
    """Fit the valid-set corrections on the best EMA weights, fold them in, and write safetensors + card."""
    base = _base_run_card(cfg.init_from)
    if base:  # a further cycle: the card must say how its starting weights were made too
        command = f"{base.get('training_command', '?')} && {command}"
        earlier = [dict(h, cycle=h.get("cycle", 1)) for h in base.get("history", [])]
        this_cycle = max((h["cycle"] for h in earlier), default=0) + 1
        history = earlier + [dict(h, cycle=this_cycle) for h in history]
    model = spec.create()
    model.load_state_dict(torch.load(out / "best.pt", map_location="cpu", weights_only=True)["ema"])
    model.eval()
    v_logits = predict_logits(model, valid_ds.images, spec)
    offset = fit_class_offsets(v_logits, valid_ds.labels, cfg.min_recall)
    if extra_valid is None:
        temperature = fit_temperature(v_logits + offset, valid_ds.labels)
    else:  # calibrated for FER's crops and for photos through the detector alike
        e_logits = predict_logits(model, extra_valid.images, spec)
        temperature = fit_temperature(np.concatenate([v_logits, e_logits]) + offset,
                                      np.concatenate([valid_ds.labels, extra_valid.labels]))
    fold_into_classifier(model, offset, temperature)
    valid_probs = softmax(predict_logits(model, valid_ds.images, spec))
    valid_metrics = compute_metrics(valid_probs, valid_ds.labels)
    metrics = {"valid": valid_metrics}
    if extra_valid is not None:
        metrics["extra_valid"] = dict(compute_metrics(softmax(predict_logits(model, extra_valid.images, spec)),
                                                      extra_valid.labels), data=cfg.extra_valid,
                                      mode="detect (crops framed by the app's detector and alignment)")
    name = cfg.name or f"fer-{cfg.arch.replace('_', '-')}"
    card = {
        "name": name,
        "architecture": spec.timm_name,
        "input": {"size": spec.input_size, "channels": spec.in_chans, "mean": list(spec.mean),
                  "std": list(spec.std), "source_size": spec.source_size, "test_time": "horizontal-flip average"},
        "labels": list(spec.labels),
        "data": {"train": _training_data(cfg),
                 "selection": "FER2013Valid only (epoch, per-class logit offsets, temperature)" if not cfg.extra_valid
                 else f"epoch: mean accuracy on FER2013Valid and {cfg.extra_valid} (through the detector); "
                      "per-class logit offsets: FER2013Valid; temperature: both sets together",
                 "protocol": "FER+ majority, 8 classes (../shared/data/README.md)"},
        "training": {k: v for k, v in vars(cfg).items()},
        "training_command": command,
        "post_hoc": {"method": f"per-class logit offsets lifting every class to recall >= {cfg.min_recall} "
                               "on FER2013Valid, then temperature scaling",
                     "logit_offset": [round(float(v), 4) for v in offset], "temperature": temperature,
                     "note": "folded into the final linear layer"},
        "best_epoch": best.get("epoch"),
        "history": history,
        "metrics": metrics,
        "date": _dt.date.today().isoformat(),
        "git_commit": _git_commit(),
    }
    try:
        card["uncertainty"] = dict(fit_rule(valid_probs, valid_ds.labels), chosen_on="FER2013Valid")
    except ValueError:  # a weak model may never reach the target accuracy: keep the app's default rule
        pass
    if attention := attention_card(model):
        card["attention"] = attention
    save_checkpoint(model, spec, card, out / name)
    print(f"saved {out / name}.safetensors (valid accuracy {valid_metrics['accuracy']:.4f}, "
          f"macro-F1 {valid_metrics['macro_f1']:.4f}, offsets {np.round(offset, 2).tolist()}, "
          f"T {temperature:.2f})", file=sys.stderr)
    return card
