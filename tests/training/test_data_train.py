"""Dataset layouts under the project protocol, augmentation, and a short resumable training run."""
from __future__ import annotations

import csv

import numpy as np
import torch
from PIL import Image

from fer_core.labels import CLASSES
from fer_core.model.checkpoint import load_model
from fer_core.training.augment import FaceAugment
from fer_core.training.data import ferplus_majority, load_dataset
from fer_core.training.train import TrainConfig, train
from tests.conftest import require_shared


def test_ferplus_protocol_counts() -> None:
    """The README's protocol keeps 3,545 test images with these class counts."""
    test = load_dataset(require_shared("data/ferplus"), "ferplus", "test")
    assert len(test) == 3545
    assert test.class_counts().tolist() == [1258, 928, 447, 446, 321, 20, 97, 28]
    assert test.images.shape[1:] == (48, 48) and test.images.dtype == np.uint8
    np.testing.assert_allclose(test.soft.sum(axis=1), 1, atol=1e-5)
    assert (test.soft.argmax(axis=1) == test.labels).all()


def test_majority_rule_ties_and_unknown() -> None:
    votes = np.array([
        [3, 3, 0, 0, 0, 0, 0, 0, 4, 0],   # unknown beats the emotions: dropped
        [3, 3, 0, 0, 0, 0, 0, 0, 3, 0],   # tie with unknown: kept; tie between classes: first wins
        [0, 0, 0, 0, 0, 0, 0, 2, 0, 8],   # not a face: dropped
    ], dtype=np.float32)
    keep, labels = ferplus_majority(votes)
    assert keep.tolist() == [False, True, False]
    assert labels[1] == CLASSES.index("neutral")


def _write_faces(root, names_and_labels) -> None:
    rng = np.random.default_rng(0)
    for folder, n in names_and_labels:
        (root / folder).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(root / folder / f"{i}.png")


def test_folder_layout_accepts_synonyms(tmp_path) -> None:
    _write_faces(tmp_path, [("happy", 2), ("Angry", 1), ("surprised", 1), ("fearful", 1), ("misc", 3)])
    ds = load_dataset(tmp_path, "folders")
    assert len(ds) == 5  # "misc" is not a class and is ignored
    assert sorted(CLASSES[i] for i in ds.labels) == ["anger", "fear", "happiness", "happiness", "surprise"]


def test_kaggle_csv_layout(tmp_path) -> None:
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for code, usage in [(3, "Training"), (0, "Training"), (6, "PrivateTest")]:
            w.writerow([code, " ".join(["128"] * 48 * 48), usage])
    train_ds = load_dataset(path, "auto", "train")
    test_ds = load_dataset(path, "auto", "test")
    assert [CLASSES[i] for i in train_ds.labels] == ["happiness", "anger"]
    assert [CLASSES[i] for i in test_ds.labels] == ["neutral"]


def test_augmentation_keeps_range_and_varies() -> None:
    x = torch.rand(16, 1, 48, 48)
    aug = FaceAugment(64)
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(2))
    assert a.shape == (16, 1, 64, 64) and a.min() >= 0 and a.max() <= 1
    assert not torch.allclose(a, b)


def test_short_training_run_saves_and_resumes(tmp_path, monkeypatch) -> None:
    """A tiny run that dies during epoch 2 resumes from the epoch-1 checkpoint and finishes."""
    import fer_core.training.train as train_module

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "faces"
    _write_faces(data, [(c, 6) for c in ("neutral", "happy", "sad", "angry")])
    cfg = TrainConfig(data=str(data), arch="resnet10t", epochs=2, batch_size=8, max_steps_per_epoch=2,
                      threads=1, out=str(tmp_path / "run"), name="tiny")
    real_predict, calls = train_module.predict_logits, []

    def dies_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated stop")
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(train_module, "predict_logits", dies_in_epoch_two)
    try:
        train(cfg, "test")
    except KeyboardInterrupt:
        pass
    assert (tmp_path / "run" / "last.pt").exists() and not (tmp_path / "run" / "tiny.json").exists()
    monkeypatch.setattr(train_module, "predict_logits", real_predict)
    card = train(cfg, "test-resume")
    assert [h["epoch"] for h in card["history"]] == [1, 2]  # epoch 1 was not redone
    assert set(card["metrics"]["valid"]) >= {"accuracy", "macro_f1", "per_class_recall", "ece"}
    loaded = load_model(tmp_path / "run" / "tiny.safetensors")
    assert loaded.spec.timm_name == "resnet10t" and not loaded.model.training


def test_blur_augmentation_softens_edges() -> None:
    x = torch.rand(16, 1, 48, 48)
    sharp = FaceAugment(64, erase_p=0)(x, torch.Generator().manual_seed(3))
    blurred = FaceAugment(64, erase_p=0, blur_p=1.0)(x, torch.Generator().manual_seed(3))

    def edge_energy(t: torch.Tensor) -> float:
        return float((t[..., 1:, :] - t[..., :-1, :]).abs().mean())

    assert blurred.shape == sharp.shape and blurred.min() >= 0 and blurred.max() <= 1
    assert edge_energy(blurred) < 0.5 * edge_energy(sharp)


def test_mixup_mixes_faces_and_vote_distributions_alike() -> None:
    import numpy as np

    from fer_core.training.train import mixup

    x = torch.rand(8, 1, 4, 4)
    y = torch.softmax(torch.randn(8, 8), dim=1)
    same_x, same_y = mixup(x, y, alpha=0.0, p=1.0, rng=np.random.default_rng(0))
    assert same_x is x and same_y is y  # alpha 0 = off
    mx, my = mixup(x, y, alpha=0.4, p=1.0, rng=np.random.default_rng(0))
    torch.testing.assert_close(my.sum(1), torch.ones(8))
    # the same lambda and partner for pixels and targets: solve lambda from one face, check it on its target
    rng = np.random.default_rng(0)
    rng.random()
    lam, perm = float(rng.beta(0.4, 0.4)), torch.from_numpy(rng.permutation(8))
    torch.testing.assert_close(mx, lam * x + (1 - lam) * x[perm])
    torch.testing.assert_close(my, lam * y + (1 - lam) * y[perm])


def test_a_further_cycle_starts_from_the_network_as_trained() -> None:
    """`--init-from NAME` takes a saved model's folded corrections back out: folding them in again gives the
    saved model's logits."""
    from fer_core.training.post_hoc import fold_into_classifier
    from fer_core.training.train import initial_weights

    loaded = load_model()
    raw = loaded.spec.create().eval()
    raw.load_state_dict(initial_weights(loaded.name))
    post = loaded.card["post_hoc"]
    offset = np.asarray(post.get("logit_offset", np.zeros(len(loaded.spec.labels))))
    fold_into_classifier(raw, offset, post["temperature"])
    x = torch.randn(3, 1, loaded.spec.input_size, loaded.spec.input_size)
    with torch.no_grad():
        torch.testing.assert_close(raw(x), loaded.model(x), atol=1e-4, rtol=1e-4)


def test_distillation_blends_votes_with_the_teachers_probabilities() -> None:
    from fer_core.training.train import distill_targets

    faces = load_dataset(require_shared("data/ferplus"), "ferplus", "valid").subset(np.arange(200))
    assert distill_targets(faces, "", 0.5) is faces.soft
    teacher = distill_targets(faces, "fer-resnet10t-cbam-v1", 1.0)
    half = distill_targets(faces, "fer-resnet10t-cbam-v1", 0.5)
    np.testing.assert_allclose(teacher.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_allclose(half, (faces.soft + teacher) / 2, atol=1e-6)
    # a real teacher agrees with the crowd's majority on most faces, but not blindly on all
    agreement = (teacher.argmax(axis=1) == faces.labels).mean()
    assert 0.6 < agreement < 1.0


def test_small_face_stem_keeps_twice_the_feature_map_and_old_cards_still_load() -> None:
    """`resnet10t_s48` drops the stem max-pool: layer3 is 6x6 for a 48 px face (v2's spec: 4x4 for 64 px),
    it takes v2's weights unchanged, and a card written before the field existed still means "keep the pool"."""
    from fer_core.model.spec import SPECS, ModelSpec

    small, base = SPECS["resnet10t_s48"], SPECS["resnet10t"]
    shapes = {}
    for name, spec in (("small", small), ("base", base)):
        model = spec.create().eval()
        hook = model.layer3.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, o.shape))
        with torch.no_grad():
            logits = model(torch.zeros(2, 1, spec.input_size, spec.input_size))
        hook.remove()
        assert logits.shape == (2, len(CLASSES))
    assert shapes["small"][-2:] == (6, 6) and shapes["base"][-2:] == (4, 4)
    assert small.create().load_state_dict(base.create().state_dict())  # same parameters: warm starts work
    old_card = {k: v for k, v in small.to_json().items() if k != "stem_pool"}
    assert ModelSpec.from_json(old_card).stem_pool is True
    assert ModelSpec.from_json(small.to_json()) == small


def test_extra_photos_are_drawn_more_often_by_their_weight() -> None:
    from fer_core.training.train import draw_weights

    labels = np.array([0, 0, 0, 1, 1, 0, 1])  # five FER2013 faces, then two extra photos
    plain, tripled = draw_weights(labels, 0.5, 5, 1.0), draw_weights(labels, 0.5, 5, 3.0)
    assert torch.isclose(plain.sum(), torch.tensor(1.0, dtype=plain.dtype))
    assert torch.isclose(tripled.sum(), torch.tensor(1.0, dtype=tripled.dtype))
    # same class, one FER2013 face and one extra photo: alike at weight 1, three to one at weight 3
    assert torch.isclose(plain[5], plain[0]) and torch.isclose(tripled[5], 3 * tripled[0])
    assert torch.isclose(tripled[6], 3 * tripled[3])


def test_sharpened_votes_favour_the_majority_and_keep_one_hot_targets() -> None:
    from fer_core.training.train import sharpened

    votes = np.array([[0.4, 0.0, 0.0, 0.6, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    out = sharpened(votes, 2.0)
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(out[0, [0, 3]], [0.16 / 0.52, 0.36 / 0.52], atol=1e-6)  # 6 of 10 -> 0.69
    np.testing.assert_array_equal(out[1], votes[1])
    assert sharpened(votes, 1.0) is votes
