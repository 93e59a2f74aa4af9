"""The closed loop (`factory run --guided-by`, docs/guided.md): the proposal on synthetic errors, the
regressors, the candidate stream, and guided MuJoCo runs (deterministic, resumable, refusing a guide
of another recipe)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import shipped

from factory.cli import main
from factory.contract.sampling import sample_episode, sample_episodes
from factory.guide.proposal import balance_weights, error_weights, importance_weights, select, weighted_mean
from factory.guide.select import MODEL
from factory.model.regress import choose_regressor
from factory.recipe.guided import CANDIDATE_BASE
from factory.recipe.schema import Recipe
from factory.storage.opener import open_dataset

pytest.importorskip("mujoco")


# ---------------------------------------------------------------- the proposal, on a synthetic error
def _pool(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, n)


def test_proposal_concentrates_where_the_error_is_high_and_weights_recover_the_prior_mean():
    """θ ~ U(0, 1), error e(θ) = exp(4θ): the top decile of θ holds most of the error. The guided draw puts far
    more than a tenth of its episodes there, and its importance weights bring the mean of θ (and of θ², and the
    share in the top decile) back to the prior's within 0.02: the tolerance a 2,000-episode draw from a
    32,000-candidate pool meets (its Monte-Carlo spread is about 0.01)."""
    theta = _pool(32_000)
    w = error_weights(np.exp(4 * theta), alpha=1.0, epsilon=0.1)
    chosen = select(w, 2_000, explore=0.25, rng=np.random.default_rng(1))
    ratio = importance_weights(w, chosen, explore=0.25)
    picked = theta[chosen]
    assert len(set(chosen.tolist())) == 2_000 and np.all(np.diff(chosen) > 0)  # distinct, in candidate order
    assert (picked > 0.9).mean() > 0.25  # uniform draws put 0.10 there
    assert picked.mean() > 0.6
    assert abs(weighted_mean(picked, ratio) - 0.5) < 0.02
    assert abs(weighted_mean(picked ** 2, ratio) - 1 / 3) < 0.02
    assert abs(weighted_mean(picked > 0.9, ratio) - 0.1) < 0.02
    assert ratio.mean() == pytest.approx(1.0)


def test_strength_zero_and_full_exploration_leave_the_prior():
    theta = _pool(4_000)
    flat = error_weights(np.exp(4 * theta), alpha=0.0, epsilon=0.1)
    chosen = select(flat, 400, explore=0.0, rng=np.random.default_rng(2))
    assert np.allclose(importance_weights(flat, chosen, 0.0), 1.0)
    assert abs(theta[chosen].mean() - 0.5) < 0.05


def test_explore_share_is_drawn_uniformly_and_caps_the_weights():
    """With explore s, q ≥ s·p, so no episode weighs more than 1/s before normalization."""
    w = error_weights(np.exp(8 * _pool(8_000)), alpha=2.0, epsilon=0.01)
    chosen = select(w, 500, explore=0.5, rng=np.random.default_rng(3))
    raw = 1.0 / (0.5 + 0.5 * w[chosen] / w.mean())
    assert raw.max() <= 2.0
    assert importance_weights(w, chosen, 0.5).max() == pytest.approx(raw.max() / raw.mean())


def test_the_same_generator_gives_the_same_selection():
    w = error_weights(np.exp(3 * _pool(5_000)), 1.0, 0.1)
    a = select(w, 300, 0.25, np.random.default_rng([7, 8]))
    b = select(w, 300, 0.25, np.random.default_rng([7, 8]))
    assert np.array_equal(a, b)


def test_balance_reaches_half_where_the_classifier_is_sharp():
    """A rare value (10%) that a sharp classifier locates: the expected share after reweighting is 0.5, and the
    share actually drawn (by the true outcomes) lies within 0.40-0.60."""
    theta = _pool(20_000)
    rare = theta > 0.9
    p_rare = np.clip((theta - 0.85) * 10, 0, 1)  # a slightly blurred classifier
    w, share = balance_weights(p_rare, 0.5, explore=0.25)
    assert share == pytest.approx(0.5, abs=1e-6)
    chosen = select(w, 1_000, 0.25, np.random.default_rng(4))
    assert 0.40 <= rare[chosen].mean() <= 0.60
    ratio = importance_weights(w, chosen, 0.25)
    assert abs(weighted_mean(rare[chosen], ratio) - 0.1) < 0.03


def test_balance_says_what_it_reaches_when_the_target_is_out_of_reach():
    w, share = balance_weights(np.full(100, 0.1), 0.5, explore=0.25)  # nothing tells the rare episodes apart
    assert share == pytest.approx(0.1)
    assert np.ptp(w) == 0


# ---------------------------------------------------------------- the regressors
def test_choose_regressor_keeps_the_one_that_fits():
    """A smooth quadratic goes to the quadratic ridge, a step in one of five parameters to the boosted trees,
    a yes/no band along a diagonal to the quadratic logistic classifier; each then predicts new points."""
    rng = np.random.default_rng(0)
    x, test = rng.uniform(-1, 1, (150, 5)), rng.uniform(-1, 1, (100, 5))
    fast = ["k-nn", "quadratic-ridge", "boosted-trees"]
    smooth = lambda x: 2 * x[:, 0] ** 2 - x[:, 1]  # noqa: E731
    model, scores = choose_regressor(x, smooth(x) + 0.05 * rng.normal(size=150), names=fast)
    assert model.name == "quadratic-ridge" and scores["quadratic-ridge"]["r2"] > 0.95
    assert np.corrcoef(model.predict(test), smooth(test))[0, 1] > 0.98
    step = lambda x: (x[:, 2] > 0.4).astype(float)  # noqa: E731
    model, scores = choose_regressor(x, step(x), names=fast)
    assert model.name == "boosted-trees" and scores["boosted-trees"]["r2"] > 0.8
    assert ((model.predict(test) > 0.5) == step(test)).mean() > 0.9
    band = lambda x: np.abs(x[:, 0] - x[:, 1]) < 0.4  # noqa: E731
    model, _ = choose_regressor(x, band(x).astype(float), names=["k-nn", "quadratic-logistic"], classify=True)
    assert model.name == "quadratic-logistic" and ((model.predict(test) > 0.5) == band(test)).mean() > 0.85


# ---------------------------------------------------------------- the candidate stream
RECIPE = shipped("phyworld/elastic_collision.yaml", engine={"type": "mujoco"}, episodes=48, steps=100, n_envs=8,
                 outputs={"formats": ["parquet", "hdf5"], "record_every": 2, "shard_size": 16},
                 scene=shipped("phyworld/elastic_collision.yaml").model_dump()["scene"]
                 | {"objects": [o | {"restitution": 0.9}
                                for o in shipped("phyworld/elastic_collision.yaml").model_dump()["scene"]["objects"]]})


def _guided(recipe: Recipe, candidates: list[int]) -> Recipe:
    return Recipe.model_validate(recipe.model_dump() | {"episodes": len(candidates), "guided": {
        "candidates": candidates, "weights": [1.0] * len(candidates)}})


def test_a_guided_episode_is_its_candidate_under_its_own_index():
    guided = _guided(RECIPE, [5, 0, 9, 9])
    specs = sample_episodes(guided, [0, 1, 2, 3])
    for i, (spec, c) in enumerate(zip(specs, [5, 0, 9, 9], strict=True)):
        alone = sample_episode(RECIPE, CANDIDATE_BASE + c)
        assert spec.index == i and sample_episode(guided, i).params == spec.params == alone.params
    assert specs[0].params != sample_episode(RECIPE, 5).params  # the candidate stream is not the dataset's own


def test_a_recipe_without_guidance_serializes_as_before():
    assert "guided" not in RECIPE.model_dump(mode="json")
    assert "guided" in _guided(RECIPE, [1]).model_dump(mode="json")


def test_a_selection_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="guided: selects 2 episodes, the recipe runs 3"):
        Recipe.model_validate(_guided(RECIPE, [1, 2]).model_dump() | {"episodes": 3})


# ---------------------------------------------------------------- guided runs on MuJoCo
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A recipe file, and a 48-episode guide dataset of it with a model trained for 40 steps (a step budget:
    the same model on any machine, so the same guided selection)."""
    from factory.model.rigid_train import train_relational
    from factory.model.split import episode_info, split_episodes
    from factory.model.train import TrainConfig

    root = tmp_path_factory.mktemp("guided")
    (root / "recipe.yaml").write_text(yaml.safe_dump(RECIPE.model_dump(mode="json"), sort_keys=False))
    assert main(["run", str(root / "recipe.yaml"), "--out", str(root / "guide"), "--quiet"]) == 0
    guide = open_dataset(root / "guide")
    table = guide.episodes()
    config = TrainConfig(epochs=10_000, max_steps=40, batch_size=64)
    train_relational(guide, split_episodes(table, {}), episode_info(table), config, out=root / "guide" / MODEL)
    return root


def _run_guided(work: Path, out: Path, *more: str) -> int:
    return main(["run", str(work / "recipe.yaml"), "--out", str(out), "--episodes", "24", "--pool", "8", "--quiet",
                 "--guided-by", str(work / "guide"), *more])


def _data_bytes(root: Path) -> dict[str, bytes]:
    files = sorted(root.rglob("*.parquet")) + sorted(root.rglob("*.h5"))
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def guided_run(work) -> Path:
    out = work / "guided"
    assert _run_guided(work, out) == 0
    return out


def test_a_guided_run_stores_weights_and_its_provenance(work, guided_run):
    ds = open_dataset(guided_run)
    table = ds.episodes()
    w = ds.importance_weights()
    assert len(w) == 24 and w.mean() == pytest.approx(1.0) and np.ptp(w) > 0
    assert np.allclose(open_dataset(guided_run, "hdf5").importance_weights(), w)
    guided = ds.manifest["recipe"]["guided"]
    assert guided["candidates"] == table["guided_candidate"].to_pylist()
    guide = guided["guide"]
    assert guide["dataset_sha256"] and guide["model_sha256"] and guide["settings"]["pool"] == 8
    assert guide["fit"]["regressor"] in guide["fit"]["scores"] and guide["fit"]["steered"]
    assert open_dataset(work / "guide").importance_weights().tolist() == [1.0] * 48  # unguided: all ones
    left = np.asarray(table["param__left__vel__x"].to_numpy())
    prior = sample_episodes(RECIPE, [CANDIDATE_BASE + j for j in range(128)])
    low, high = min(p.params["left.vel.x"] for p in prior), max(p.params["left.vel.x"] for p in prior)
    assert np.all((left >= low) & (left <= high))  # every episode is a draw of the recipe's own distributions


def test_an_error_model_no_better_than_the_mean_does_not_steer(work, tmp_path, monkeypatch):
    import factory.guide.select

    class Flat:
        name = "k-nn"

        def predict(self, x):
            return np.linspace(0, 5, len(x))  # it would steer hard, were it trusted

    monkeypatch.setattr(factory.guide.select, "choose_regressor", lambda x, y, seed: (Flat(), {"k-nn": {
        "mse": 1.0, "r2": -0.1, "spearman": 0.0}}))
    assert _run_guided(work, tmp_path / "flat") == 0
    ds = open_dataset(tmp_path / "flat")
    assert ds.importance_weights().tolist() == [1.0] * 24
    assert ds.manifest["recipe"]["guided"]["guide"]["fit"]["steered"] is False


def test_the_same_guide_and_seed_give_the_same_bytes(work, guided_run, tmp_path):
    assert _run_guided(work, tmp_path / "again") == 0
    assert _data_bytes(tmp_path / "again") == _data_bytes(guided_run)


def test_an_interrupted_guided_run_resumes_to_the_same_bytes(work, guided_run, tmp_path, monkeypatch):
    """The second shard's files and receipt gone and no manifest: the rerun takes the recorded selection
    (without fitting again: a fit would fail here) and writes what the uninterrupted run wrote."""
    import factory.guide.select

    def no_fit(*args, **kwargs):
        raise AssertionError("a resumed guided run fitted its error model again")

    monkeypatch.setattr(factory.guide.select, "choose_regressor", no_fit)
    out = Path(shutil.copytree(guided_run, tmp_path / "ds"))
    gone = [*out.rglob("shard-00001*"), out / "manifest.json"]
    assert len(gone) == 6  # its three Parquet tables and HDF5 file (of two shards), its receipt, the manifest
    for p in gone:
        p.unlink()
    assert _run_guided(work, out) == 0
    assert _data_bytes(out) == _data_bytes(guided_run)
    assert json.loads((out / "manifest.json").read_text())["recipe"] == \
        json.loads((guided_run / "manifest.json").read_text())["recipe"]


def test_a_merge_of_a_uniform_and_a_guided_dataset_keeps_both_weights(work, guided_run, tmp_path):
    from factory.export.merge import merge

    manifest = merge([work / "guide", guided_run], tmp_path / "merged")
    ds = open_dataset(tmp_path / "merged")
    w = ds.importance_weights()
    assert "guided" not in manifest["recipe"] and manifest["counts"]["episodes"] == 48 + 24
    assert w[:48].tolist() == [1.0] * 48 and w[48:].tolist() == open_dataset(guided_run).importance_weights().tolist()
    assert ds.episodes()["guided_candidate"].to_pylist()[:48] == [-1] * 48


def test_a_guide_of_another_recipe_is_refused_with_exit_2(work, tmp_path, capsys):
    other = shipped("phyworld/parabola.yaml", engine={"type": "mujoco"}, episodes=4, steps=20,
                    outputs={"formats": ["parquet"], "record_every": 5, "shard_size": 4})
    (tmp_path / "parabola.yaml").write_text(yaml.safe_dump(other.model_dump(mode="json"), sort_keys=False))
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "parabola.yaml"), "--out", str(out), "--guided-by", str(work / "guide"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--guided-by" in err and "ball.vel.x" in err and "left.vel.x" in err
    assert not out.exists()


def test_the_command_line_defaults_are_the_settings_defaults():
    from dataclasses import fields

    from factory.cli.guide import _DEFAULTS
    from factory.guide.select import GuideSettings

    assert {f.name: f.default for f in fields(GuideSettings) if f.name in _DEFAULTS} == _DEFAULTS


def test_bad_guide_settings_are_refused_with_exit_2(work, tmp_path, capsys):
    assert _run_guided(work, tmp_path / "out", "--explore", "1.5") == 2
    assert "--explore must lie in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the report's estimates, weighted
def test_weighted_evaluation_follows_the_weights(work):
    """Weights that put all but nothing on one episode give that episode's own errors and label rate."""
    from factory.checks import bodies_for
    from factory.labels import label_context
    from factory.model.baselines import ConstantVelocity
    from factory.model.evaluate import label_accuracy, rollout_error
    from factory.model.pieces import iter_episodes
    from factory.model.split import episode_info

    ds = open_dataset(work / "guide")
    eps = list(iter_episodes(ds, [0, 1, 2]))
    predictor = [ConstantVelocity(ds.layout)]
    alone = rollout_error(predictor, eps[1:2], ds.layout, 10)
    leaning = rollout_error(predictor, eps, ds.layout, 10, weights={0: 1e-12, 1: 1.0, 2: 1e-12})
    assert np.allclose(leaning["constant-velocity"], alone["constant-velocity"], rtol=1e-6)
    assert not np.allclose(rollout_error(predictor, eps, ds.layout, 10)["constant-velocity"],
                           alone["constant-velocity"], rtol=1e-3)
    info = episode_info(ds.episodes())
    ctx = label_context(RECIPE, ds.layout)
    bodies = {e.index: bodies_for(ds.manifest["recipe"], info[e.index]["params"]) for e in eps}
    labels = {e.index: info[e.index]["labels"] for e in eps}
    rate = label_accuracy([], eps, labels, bodies, ctx, {0: 1e-12, 1: 1.0, 2: 1e-12})["positive_rate"]
    assert rate == {n: pytest.approx(float(labels[1][n])) for n in rate}


def test_the_report_weights_a_guided_dataset_only(work, guided_run):
    from factory.report.build import episode_weights

    assert episode_weights(open_dataset(work / "guide")) is None
    weights = episode_weights(open_dataset(guided_run))
    assert weights is not None and sorted(weights) == list(range(24))
    assert np.allclose(list(weights.values()), open_dataset(guided_run).importance_weights())


# ---------------------------------------------------------------- factory loop
def test_the_loop_scores_both_arms_on_the_same_test_episodes(work, tmp_path):
    out = tmp_path / "loop"
    assert main(["loop", str(work / "recipe.yaml"), "--rounds", "1", "--episodes", "34", "--test-episodes", "8",
                 "--out", str(out), "--train-steps", "5", "--pool", "4"]) == 0
    result = json.loads((out / "loop.json").read_text())
    for name in ("uniform-0", "uniform-1", "guided-1"):  # a step budget: the same for every model
        assert torch.load(out / name / "report" / "model.pt", weights_only=False)["steps"] == 5
    assert [r["episodes"] for r in result["rounds"]] == [34, 68]
    assert result["rounds"][0]["uniform"] == result["rounds"][0]["guided"]  # round 0: one model, one dataset
    for arm in ("uniform", "guided"):
        assert 0 < result["rounds"][1][arm]["rollout"] < 1
    assert open_dataset(out / "uniform-1").manifest["counts"]["episodes"] == 68
    weights = open_dataset(out / "guided-1").importance_weights()
    assert weights[:34].tolist() == [1.0] * 34 and np.ptp(weights[34:]) > 0
    page = (out / "index.html").read_text()
    assert page.count("<tr>") == 3 and "trained for 5 steps" in page and (out / "loop.png").stat().st_size > 0


def test_a_particle_model_is_scored_per_episode(dam_break_dataset, tmp_path):
    """The guide's per-episode errors for the particle model (fluid and cloth datasets): one finite, positive
    one-step and rollout error per episode, in the order asked."""
    from factory.model.episode_errors import episode_errors
    from factory.model.particle_train import train_particles
    from factory.model.split import Split
    from factory.model.train import TrainConfig

    ds = open_dataset(dam_break_dataset)
    checkpoint = tmp_path / "model.pt"
    train_particles(ds, Split(train=[0], val=[1], test=[], ood=[]), TrainConfig(epochs=1), out=checkpoint)
    errors = episode_errors(ds, checkpoint, [0, 1], horizon=5)
    assert errors.episodes.tolist() == [0, 1] and errors.horizon == 5
    assert np.all(np.isfinite(errors.one_step)) and np.all(errors.one_step > 0)
    assert np.all(np.isfinite(errors.rollout)) and np.all(errors.rollout > 0)
