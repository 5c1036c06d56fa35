"""Suites: loading, expansion into jobs, stable job ids, and errors before anything runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench.kind import list_kinds
from bench.spec import Job
from bench.suite import SuiteError, list_suites, load_suite, parse_suite

HEADER = 'name = "t"\nseed = 3\n'


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(header + body)
    return path


ROBUST = """
[[task]]
kind = "robustness"
model = ["mnist_logreg", "mnist_cnn"]
attack = ["fgsm", "pgd"]
norm = ["linf", "l2"]
eps = [0.2, 0.0, 0.1]
n = 16
steps = 3
rel_alpha = 0.5
"""


@pytest.mark.parametrize("name", ["quick", "default"])
def test_shipped_suites_load_with_unique_ids(name: str) -> None:
    suite = load_suite(name)
    assert suite.name == name and suite.jobs
    assert len({job.id for job in suite.jobs}) == len(suite.jobs)
    assert {job.kind for job in suite.jobs} == set(list_kinds())  # every kind is exercised
    assert name in list_suites()


def test_list_values_expand_as_a_product_and_unsupported_norms_drop(tmp_path: Path) -> None:
    jobs = load_suite(write(tmp_path, ROBUST)).jobs
    # fgsm is Linf only, pgd has both norms: 2 models x (1 + 2)
    assert sorted(j.label for j in jobs) == sorted(
        f"robustness {m} {a} {n}" for m in ("mnist_logreg", "mnist_cnn")
        for a, n in (("fgsm", "linf"), ("pgd", "linf"), ("pgd", "l2")))
    pgd = next(j for j in jobs if j.params["attack"] == "pgd")
    assert pgd.params["eps"] == [0.0, 0.1, 0.2]  # a grid stays in one job, sorted
    assert pgd.params["seed"] == 3 and pgd.params["dataset"] == "mnist5k"
    fgsm = next(j for j in jobs if j.params["attack"] == "fgsm")
    # FGSM takes no steps or step size: they are not part of its config (nor its id)
    assert "steps" not in fgsm.params and "rel_alpha" not in fgsm.params


def test_job_id_is_the_sha256_of_the_canonical_config(tmp_path: Path) -> None:
    job = load_suite(write(tmp_path, ROBUST)).jobs[0]
    canonical = json.dumps({"kind": job.kind, **job.params}, sort_keys=True,
                           separators=(",", ":"))
    assert job.id == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_job_ids_are_stable_and_change_with_any_parameter(tmp_path: Path) -> None:
    first = [j.id for j in load_suite(write(tmp_path, ROBUST)).jobs]
    again = [j.id for j in load_suite(write(tmp_path, ROBUST)).jobs]
    assert first == again
    # key order and int/float spelling in the file do not matter
    reordered = ROBUST.replace("eps = [0.2, 0.0, 0.1]", "eps = [0.1, 0, 0.2]")
    assert [j.id for j in load_suite(write(tmp_path, reordered)).jobs] == first
    changed = load_suite(write(tmp_path, ROBUST.replace("n = 16", "n = 17"))).jobs
    assert not set(first) & {j.id for j in changed}
    reseeded = load_suite(write(tmp_path, ROBUST, header='name = "t"\nseed = 4\n')).jobs
    assert not set(first) & {j.id for j in reseeded}
    # the FGSM jobs do not take steps, so changing steps leaves their ids alone
    more_steps = load_suite(write(tmp_path, ROBUST.replace("steps = 3", "steps = 4"))).jobs
    fgsm_ids = {j.id for j in load_suite(write(tmp_path, ROBUST)).jobs
                if j.params["attack"] == "fgsm"}
    assert fgsm_ids <= {j.id for j in more_steps}


def test_shipped_suites_keep_their_job_ids() -> None:
    # the ids of every job of the shipped suites, recorded at f1c1c30: a change that alters
    # one alters what a resumed run skips and what compares across runs, so it must be meant.
    # Re-pinned when occlusion's suite defaults became fractions of the image side (window
    # 4 px, stride 2 -> rel_window 0.15, rel_stride 0.075): the 15 attribution, agreement
    # and quality jobs changed id, no other job did. Extended when the minimal kind's tasks
    # were added (13 new ids, all of them minimal jobs; every earlier id kept), and when the
    # default suite gained Square, transfer and AutoAttack jobs (6 new ids) and its sanity
    # checks a surrogate (their 3 ids changed), and its 12 minimal jobs moved from 100 to 200
    # digits (their ids changed).
    pinned = json.loads((Path(__file__).parent / "data" / "job_ids.json").read_text())
    for name, ids in pinned.items():
        assert sorted(job.id for job in load_suite(name).jobs) == sorted(ids)


@pytest.mark.parametrize("name", ["quick", "default"])
def test_shipped_suites_size_occlusion_by_the_image_side(name: str) -> None:
    jobs = [j for j in load_suite(name).jobs if j.kind in ("attribution", "agreement", "quality")]
    assert jobs
    for job in jobs:
        assert job.params["rel_window"] == 0.15 and job.params["rel_stride"] == 0.075
        assert "window" not in job.params and "stride" not in job.params
    # no other job carries occlusion's settings
    others = [j for j in load_suite(name).jobs if j not in jobs]
    assert not any({"window", "stride", "rel_window", "rel_stride"} & set(j.params)
                   for j in others)


def test_job_id_ignores_dict_order() -> None:
    a = Job("toy", {"eps": 0.5, "x": 1})
    b = Job("toy", {"x": 1, "eps": 0.5})
    assert a.id == b.id and a.id != Job("toy", {"eps": 0.25, "x": 1}).id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[task]]\nkind = "toy"\nepz = 0.5\n', "unknown key 'epz' (did you mean 'eps'?)"),
        ('[[task]]\nkind = "tsne"\n', "unknown job kind 'tsne'"),
        ('[[task]]\nkind = "robustnes"\n', "unknown job kind 'robustnes' (did you mean "
         "'robustness'?)"),
        (ROBUST.replace("steps = 3", "stpes = 3"), "unknown key 'stpes' (did you mean 'steps'?)"),
        (ROBUST.replace('"mnist_cnn"]', '"mnist_cnm"]'), "unknown model 'mnist_cnm'"),
        (ROBUST.replace('"pgd"]', '"pgdd"]'), "unknown attack 'pgdd'"),
        (ROBUST + 'dataset = "cifar10"\n', "unknown dataset 'cifar10'"),
        (ROBUST + 'dataset = "photos"\n', "audited on 'mnist5k'"),
        (ROBUST.replace("eps = [0.2, 0.0, 0.1]", "eps = [0.1, -0.1]"), "eps[1]"),
        (ROBUST.replace('norm = ["linf", "l2"]', 'norm = "l1"'), "norm must be one of"),
        (ROBUST.replace("rel_alpha = 0.5", ""), "pgd needs a step: alpha or rel_alpha"),
        (ROBUST + "alpha = 0.01\n", "not both"),
        (ROBUST.replace("n = 16", "n = 0"), "n must be >= 1"),
        (ROBUST.replace("n = 16", ""), "missing required key 'n'"),
        (ROBUST.replace('attack = ["fgsm", "pgd"]', "attack = []"), "attack is an empty list"),
        (ROBUST.replace('attack = ["fgsm", "pgd"]', 'attack = "fool"'), "targeted-only"),
        ('[[task]]\nkind = "examples"\nmodel = "mnist_cnn"\neps = [0.1]\nrel_alpha = 0.1\n'
         "steps = 2\n", "eps must be a real number"),
        ('[[task]]\nkind = "robustness"\nmodel = "mnist_cnn"\nattack = "fgsm"\n'
         'norm = "l2"\neps = [1.0]\nn = 4\n', "no job applies"),
        ("", "at least one [[task]]"),
        ('[[task]]\nkind = "attribution"\nmodel = "mnist_cnn"\nrel_window = 1.5\n',
         "rel_window must be <= 1, got 1.5"),
        ('[[task]]\nkind = "quality"\nmodel = "mnist_cnn"\nmethods = "occlusion"\n'
         "rel_stride = 0\n", "rel_stride must be > 0"),
        ('[[task]]\nkind = "agreement"\nmodel = "mnist_cnn"\nwindow = 4\nrel_window = 0.1\n',
         "give window or rel_window for occlusion, not both"),
    ],
)
def test_bad_suites_fail_at_load_time_naming_the_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, body))
    assert message in str(info.value)
    assert "suite.toml" in str(info.value)  # names the file
    assert "\n" not in str(info.value)  # one line


def test_suite_level_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="unknown suite 'nope'"):
        load_suite("nope")
    with pytest.raises(SuiteError, match="not valid TOML"):
        load_suite(write(tmp_path, "[[task]\n"))
    with pytest.raises(SuiteError, match=r"unknown top-level key 'sede' \(did you mean 'seed'"):
        load_suite(write(tmp_path, '[[task]]\nkind = "toy"\n', header="sede = 1\n"))
    with pytest.raises(SuiteError, match="task 2"):
        load_suite(write(tmp_path, '[[task]]\nkind = "toy"\n[[task]]\nkind = "toy"\nx = 1\n'))


def test_duplicate_jobs_run_once(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, '[[task]]\nkind = "toy"\n[[task]]\nkind = "toy"\n'))
    assert len(suite.jobs) == 1


def test_slug_makes_any_name_a_safe_directory(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, '[[task]]\nkind = "toy"\n',
                             header='name = "<script>alert(1)</script> x/y"\n'))
    assert suite.slug == "script-alert-1-script-x-y"


def test_random_weights_tie_their_jobs_to_the_suite_seed(tmp_path: Path) -> None:
    # random weights are drawn from the suite's seed: a run resumed under another suite seed
    # must not reuse the jobs of the old weights, also where a task sets its own seed (which
    # replaces the suite's in the job config); seed 0 (the default) keeps the ids as they were
    def ids(seed: int, task: dict[str, object], models: dict[str, object]) -> set[str]:
        raw = {"name": "s", "seed": seed, "models": models, "task": [task]}
        return {job.id for job in parse_suite(raw, path=tmp_path / "s.toml").jobs}

    common = {"kind": "stress", "method": "deep_dream", "sizes": [32], "steps_grid": [2],
              "seed": 5}
    tiny = {"tiny": {"source": "tv:squeezenet1_1", "weights": "random"}}
    for task, models in (({**common, "model": "tv:resnet18"}, {}),
                         ({**common, "model": "tiny"}, tiny)):
        assert ids(1, task, models) != ids(2, task, models) != ids(0, task, models)
    # trained weights do not depend on the suite seed: nothing to re-run
    shipped = {**common, "model": "shapes_cnn"}
    assert ids(1, shipped, {}) == ids(2, shipped, {}) == ids(0, shipped, {})
    zero = parse_suite({"name": "s", "task": [{**common, "model": "tv:resnet18"}]},
                       path=tmp_path / "s.toml").jobs[0]
    assert "definition" not in zero.params


def test_a_suite_file_that_cannot_be_read_is_a_suite_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"name = \"\xff\xfe\"\n")
    for path in (folder, binary):
        with pytest.raises(SuiteError, match=f"(cannot read suite|not found).*{path.name}"):
            load_suite(path)
