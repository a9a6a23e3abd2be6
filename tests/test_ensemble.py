"""Ensembles (helpers.ensemble): one Keras model that averages its members, candidates chosen on PublicTest."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import ensemble, evaluate, models, recipes, train


def _member(seed, n_classes=7):
    train.set_seeds(seed)
    return models.vgg_cnn(widths=(4, 8), dense=8, augment=False, n_classes=n_classes)


def test_the_average_model_predicts_the_mean_of_its_members_and_saves(tmp_path):
    members = [_member(1), _member(2), _member(3)]
    x = np.random.default_rng(0).uniform(0, 255, (6, 48, 48, 1)).astype("float32")
    each = [m.predict(x, verbose=0) for m in members]
    names = [m.name for m in members]
    averaged = ensemble.average_model(members)
    assert [m.name for m in members] == names                 # the caller's models are left as they were
    assert averaged.input_shape == members[0].input_shape and averaged.output_shape == (None, 7)
    assert np.allclose(averaged.predict(x, verbose=0), np.mean(each, axis=0), atol=1e-6)
    assert not np.allclose(each[0], each[1])                   # the members differ: the mean is not trivial
    averaged.save(tmp_path / "e.keras")
    again = keras.models.load_model(tmp_path / "e.keras", compile=False)
    assert np.allclose(again.predict(x, verbose=0), np.mean(each, axis=0), atol=1e-6)


def test_sequential_members_average_too():
    """A Sequential network (as a notebook builds one, or as :func:`models.as_float32` returns one) has no
    ``.input`` until it is called: the average takes it all the same."""
    def sequential(seed):
        keras.utils.set_random_seed(seed)
        net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(7, activation="softmax")])
        return models.as_float32(net)
    members = [sequential(1), sequential(2)]
    x = np.random.default_rng(0).uniform(0, 1, (4, 48, 48, 1)).astype("float32")
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    assert np.allclose(ensemble.average_model(members).predict(x, verbose=0), expected, atol=1e-6)


def test_candidates_are_the_last_m_snapshots_with_and_without_independent_networks():
    assert ensemble.candidates(3) == {"last 1 snapshot": [2], "last 2 snapshots": [1, 2],
                                      "last 3 snapshots": [0, 1, 2]}
    with_also = ensemble.candidates(2, ["a.keras"])
    assert with_also["a.keras alone"] == [2] and with_also["last 2 snapshots + all independent"] == [0, 1, 2]
    two = ensemble.candidates(1, ["a.keras", "runs/b/best.keras"])        # each named by its file
    assert two["a.keras alone"] == [1] and two["runs/b/best.keras alone"] == [2] and two["all independent"] == [1, 2]


def test_every_group_of_independent_networks_is_a_candidate_up_to_a_limit():
    three = ensemble.candidates(0, ["a", "b", "c"])
    assert three == {"a alone": [0], "b alone": [1], "c alone": [2], "a + b": [0, 1], "a + c": [0, 2],
                     "b + c": [1, 2], "all independent": [0, 1, 2]}
    assert len(ensemble.candidates(0, list("abcdef"))) == 2 ** 6 - 1
    many = ensemble.candidates(0, list("abcdefg"))                     # past 6: each alone and all together
    assert len(many) == 7 + 1 and many["all independent"] == list(range(7))


def test_the_choice_is_made_on_public_accuracy_and_ties_go_to_the_cheaper():
    table = pd.DataFrame([
        {"ensemble": "a", "members": 1, "tta": "shifts", "public_accuracy": 0.60, "private_accuracy": 0.90},
        {"ensemble": "b", "members": 3, "tta": "none", "public_accuracy": 0.62, "private_accuracy": 0.50},
        {"ensemble": "c", "members": 2, "tta": "flip", "public_accuracy": 0.62, "private_accuracy": 0.40},
        {"ensemble": "c", "members": 2, "tta": "none", "public_accuracy": 0.62, "private_accuracy": 0.30},
    ])
    best = ensemble.choose(table)                     # never the PrivateTest-best row (a)
    assert (best["ensemble"], best["tta"]) == ("c", "none")


def test_score_table_averages_the_members_probabilities():
    y = np.array([0, 1, 1, 0])
    sure = np.eye(2)[y] * 0.8 + 0.1                          # right on every image
    wrong = np.eye(2)[1 - y] * 0.6 + 0.2                     # wrong on every image, less sure
    proba = {"public": {t: np.stack([wrong, sure]) for t in ensemble.TTAS}}
    table = ensemble.score_table(proba, {"public": y}, ensemble.candidates(2))
    got = table[table.tta == "none"].set_index("ensemble")["public_accuracy"]
    assert got["last 1 snapshot"] == 1.0 and got["last 2 snapshots"] == 1.0    # 0.9 + 0.4 beats 0.1 + 0.8
    proba = {"public": {t: np.stack([sure, wrong]) for t in ensemble.TTAS}}
    table = ensemble.score_table(proba, {"public": y}, ensemble.candidates(2))
    assert table[table.tta == "none"].set_index("ensemble")["public_accuracy"]["last 1 snapshot"] == 0.0


def test_shared_errors_count_the_faces_out_of_an_averages_reach():
    y = np.array([0, 0, 0, 0, 1])
    guess = {"a": [0, 1, 1, 0, 1], "b": [0, 1, 0, 1, 1], "c": [0, 0, 0, 0, 1]}      # a, b: wrong on face 1
    proba = np.stack([np.eye(2)[g] for g in guess.values()])
    got = ensemble.shared_errors(proba, y, list(guess))
    assert got["wrong_each"] == [2, 2, 0] and got["all_wrong"] == 0 and got["any_right"] == 1.0
    assert got["all_wrong_agreeing"] == 0
    a_b = got["pairs"][0]
    assert a_b == {"pair": "a + b", "both_wrong": 1, "one_only": 2, "shared": 1 / 3}
    pair = ensemble.shared_errors(proba[:2], y, ["a", "b"])
    assert pair["all_wrong"] == 1 and pair["all_wrong_agreeing"] == 1      # face 1: both say 1; no average fixes it
    figure = ensemble.shared_errors_figure(np.zeros((5, 48, 48, 1), "uint8"), y, proba[:2], ["no", "yes"])
    assert [ax.get_title() for ax in figure.axes if ax.get_title()] == ["label no\nsaid yes"]


def test_the_command_scores_a_runs_snapshots_and_saves_the_chosen_ensemble(tmp_path):
    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    for k in (1, 2, 10):                                      # cycle 10 sorts after cycle 2
        _member(k).save(run / "snapshots" / f"cycle-{k}.keras")
    assert [p.name for p in ensemble.snapshot_paths(run)] == ["cycle-1.keras", "cycle-2.keras", "cycle-10.keras"]
    other = tmp_path / "other.keras"
    _member(7).save(other)
    assert ensemble.main([str(run), "--data", "demo", "--also", str(other), "--save"]) == 0
    result = json.loads((run / "ensemble.json").read_text())
    assert len(result["table"]) == (3 + 1 + 3) * 3 and result["data"].startswith("demo")
    chosen = result["chosen"]
    best = max(row["public_accuracy"] for row in result["table"])
    assert result["scores"]["public_accuracy"] == best and result["scores"]["ensemble"] == chosen["ensemble"]
    saved = keras.models.load_model(run / "ensemble.keras", compile=False)
    assert saved.output_shape == (None, 7)


def test_independent_networks_need_no_snapshots(tmp_path, capsys):
    """``--also`` alone: each network, then all together; a folder for the results, created if need be."""
    assert ensemble.candidates(0, ["a.keras", "b.keras"]) == {"a.keras alone": [0], "b.keras alone": [1],
                                                              "all independent": [0, 1]}
    paths = [tmp_path / "a.keras", tmp_path / "b.keras"]
    for seed, path in zip((3, 4), paths):
        _member(seed).save(path)
    out = tmp_path / "pair"
    assert ensemble.main([str(out), "--data", "demo", "--also", *map(str, paths)]) == 0
    result = json.loads((out / "ensemble.json").read_text())
    assert {row["ensemble"] for row in result["table"]} == {f"{paths[0]} alone", f"{paths[1]} alone",
                                                            "all independent"}
    printed = capsys.readouterr().out
    assert len(result["table"]) == 3 * len(ensemble.TTAS) and "Chosen on PublicTest" in printed
    assert "private_accuracy" not in printed and "private_accuracy" in result["table"][0]   # the record only
    assert "faces wrong for every member" in printed and len(result["public_errors"]["pairs"]) == 1
    assert (out / "shared_errors.png").is_file() == (result["public_errors"]["all_wrong"] > 0)
    if result["public_errors"]["all_wrong"]:
        assert Image.open(out / "shared_errors.png").mode == "L"                            # grey: small
    with pytest.raises(SystemExit):                            # a model file that is not there is named
        ensemble.main([str(out), "--data", "demo", "--also", str(paths[0]), str(tmp_path / "gone.keras")])
    assert "gone.keras" in capsys.readouterr().err


def test_a_run_without_snapshots_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="cycles > 1"):
        ensemble.snapshot_paths(tmp_path)


def test_distillation_targets_mix_softened_teacher_and_label():
    teacher = np.array([[0.90, 0.08, 0.02], [0.2, 0.5, 0.3]])
    labels = np.array([0, 2])
    assert np.allclose(ensemble.distillation_targets(labels, teacher, weight=0.0), np.eye(3)[labels])
    plain = ensemble.distillation_targets(labels, teacher, weight=1.0, temperature=1.0)
    assert np.allclose(plain, teacher, atol=1e-6)
    soft = ensemble.distillation_targets(labels, teacher, weight=1.0, temperature=2.0)
    assert soft[0, 2] > teacher[0, 2] and soft[0].argmax() == 0         # small ones lifted, order kept
    mixed = ensemble.distillation_targets(labels, teacher, weight=0.5, temperature=2.0)
    assert np.allclose(mixed.sum(1), 1) and np.allclose(mixed, 0.5 * soft + 0.5 * np.eye(3)[labels], atol=1e-6)


def test_a_teacher_is_saved_small_and_read_back_by_file(tiny, tmp_path):
    teacher = _member(5)
    saved = ensemble.save_teacher(tmp_path / "teacher.npz", tiny, teacher, ["t.keras"], tta="flip")
    proba = ensemble.load_teacher(saved, tiny)
    x, _ = tiny.xy("train")
    expected = evaluate.predict_proba(teacher, x, tta="flip")
    assert proba.shape == expected.shape and np.allclose(proba, expected, atol=2e-3)      # float16
    every_other = np.arange(len(tiny)) % 2 == 0                 # e.g. a train split without its leaked images
    kept = every_other[tiny.splits == "train"]
    assert np.array_equal(ensemble.load_teacher(saved, tiny.take(every_other)), proba[kept])    # matched by file
    other = tiny.take(np.arange(len(tiny)))
    other.paths = np.array([p + "?" for p in other.paths])
    with pytest.raises(ValueError, match="no teacher prediction"):
        ensemble.load_teacher(saved, other)


def test_fit_learns_the_targets_it_is_given(tiny, tmp_path):
    def weights(targets, name):
        train.set_seeds(0)
        model = models.vgg_cnn(widths=(8, 16), dense=16, augment=False, n_classes=len(tiny.classes))
        train.fit(model, tiny, tmp_path / name, epochs=2, batch_size=32, jit_compile=False, verbose=0,
                  targets=targets)
        return np.concatenate([w.ravel() for w in model.get_weights()])
    y = tiny.xy("train")[1]
    labels_only = weights(None, "a")
    assert np.allclose(weights(np.eye(len(tiny.classes))[y], "b"), labels_only)        # one-hot: the same run
    uniform = np.full((len(y), len(tiny.classes)), 1 / len(tiny.classes))
    assert not np.allclose(weights(uniform, "c"), labels_only)
    with pytest.raises(ValueError, match="one row of class probabilities per training image"):
        weights(uniform[:-1], "d")


def test_a_student_recipe_asks_for_its_teacher():
    with pytest.raises(SystemExit, match="--teacher"):
        recipes.main(["--recipe", "cpu_wide_student", "--data", "demo"])
