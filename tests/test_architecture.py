"""Architecture guarantees: what stays torch-free, the import contracts, and the generative-model protocol.

Torch takes seconds to import and is not needed to analyze music: the package root, the command line,
reading a checkpoint's info and the zero-argument ``remixmusic analyze`` of a generated folder must run
without it. Each check runs a fresh interpreter, since this one has imported torch long ago.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from remixmusic.data.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = ROOT / "checkpoints" / "bach-small"
FORBIDDEN = ("torch", "safetensors")


def imported_modules(code: str) -> set[str]:
    """The modules ``python -X importtime -c code`` imports, from its import-time report on stderr."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert done.returncode == 0, done.stderr[-2000:]
    # "import time: self [us] | cumulative | imported package": the name, indented by nesting depth.
    names = {line.rsplit("|", 1)[1].strip() for line in report[1:]}
    assert "remixmusic" in names  # the report was parsed (a vacuous empty set would pass any check)
    return names


def forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in FORBIDDEN)


def test_the_detector_sees_torch():
    """Control for the tests below: importing the transformer does show torch in the report."""
    assert "torch" in forbidden(imported_modules("import remixmusic.generation.model"))


def test_package_root_and_lazy_analyze_import_no_torch():
    assert forbidden(imported_modules("import remixmusic; remixmusic.analyze")) == []


def test_cli_imports_no_torch():
    assert forbidden(imported_modules("import remixmusic.cli")) == []


@pytest.mark.skipif(not (SHIPPED_CHECKPOINT / "config.json").exists(), reason="no shipped checkpoint")
def test_reading_checkpoint_info_imports_no_torch():
    code = (
        "from remixmusic.generation.checkpoint_info import read_info; "
        f"info = read_info({str(SHIPPED_CHECKPOINT)!r}); "
        "assert info.model_config.n_layer >= 1 and info.dataset['name'], info"
    )
    assert forbidden(imported_modules(code)) == []


def test_import_contracts_hold():
    """The layers, torch-free and acyclic-sibling contracts of ``[tool.importlinter]`` in pyproject.toml."""
    command = shutil.which("lint-imports") or shutil.which("lint-imports", path=Path(sys.executable).parent)
    if command is None:
        pytest.skip("import-linter is not installed")
    done = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


# Any import of torch (or of a module importing it) raises ImportError in this interpreter.
NO_TORCH = "import sys; sys.modules['torch'] = None; sys.modules['safetensors'] = None; "


def test_no_torch_guard_works():
    """Control: with the guard, code that needs torch fails, so the CLI test below can fail too."""
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH + "import remixmusic.generation.model"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "import of torch halted" in done.stderr


@pytest.fixture(scope="module")
def generated_folder(tmp_path_factory) -> Path:
    """A folder written by ``remixmusic generate`` from a tiny untrained checkpoint that records the
    bach-chorales dataset (and its manifest hash) as its training data."""
    import torch
    from typer.testing import CliRunner

    from remixmusic.cli import app
    from remixmusic.generation.checkpoint import save_checkpoint
    from remixmusic.generation.config import preset
    from remixmusic.generation.model import MusicTransformer
    from remixmusic.tokenizer.remi import RemiTokenizer

    dataset = load_dataset("bach-chorales")
    tokenizer = RemiTokenizer()
    torch.manual_seed(0)
    model = MusicTransformer(preset("tiny", tokenizer.vocab_size))
    root = tmp_path_factory.mktemp("no-torch")
    checkpoint = root / "tiny-chorales"
    save_checkpoint(
        checkpoint,
        model,
        tokenizer,
        dataset={"name": dataset.name, "manifest_hash": dataset.manifest_hash, "split": "train"},
    )
    folder = root / "generated"
    args = ["generate", "--checkpoint", str(checkpoint), "-n", "2", "--bars", "2", "--seed", "4"]
    result = CliRunner().invoke(app, [*args, "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_zero_argument_analyze_of_a_generated_folder_needs_no_torch(generated_folder, tmp_path):
    """``remixmusic analyze generated/`` finds its reference through sidecar -> checkpoint config.json ->
    dataset, all without torch (imports of torch and safetensors are made to fail)."""
    sidecars = sorted(generated_folder.glob("*.json"))
    assert [json.loads(p.read_text())["model"]["kind"] for p in sidecars] == ["transformer"] * 2
    out = tmp_path / "analysis"
    argv = ["remixmusic", "analyze", str(generated_folder), "-o", str(out), "--no-originality", "--jobs", "1"]
    code = NO_TORCH + f"sys.argv = {argv!r}; from remixmusic.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    params = report["params"]
    dataset = load_dataset("bach-chorales")  # the reference and control the sidecars led to
    # A tiny untrained model may write an empty piece: skipped with its reason, not counted as zeros.
    empty = [s for s in report["skipped"] if "no pitched notes" in s["reason"]]
    assert params["n_query"] + len(empty) == 2 and params["n_query"] >= 1
    assert params["n_reference"] == len(dataset.files("train"))
    assert params["n_control"] == len(dataset.files("test"))


def test_every_model_kind_is_a_generative_model():
    """The transformer, the KN n-gram and the ∞-gram all satisfy the GenerativeModel protocol: a fresh
    Decoder from decoder() whose start/step give normalized log-probabilities of the documented shapes,
    and a describe() naming the kind; make_decoder refuses anything else."""
    import numpy as np
    import torch

    from remixmusic.generation.baselines.infinigram import InfiniGram
    from remixmusic.generation.baselines.ngram import NGramModel
    from remixmusic.generation.config import preset
    from remixmusic.generation.model import MusicTransformer
    from remixmusic.generation.protocols import Decoder, GenerativeModel
    from remixmusic.generation.sampling import make_decoder

    vocab, bos = 12, 0
    rng = np.random.default_rng(0)
    train = [np.concatenate([[bos], rng.integers(1, vocab, 30)]) for _ in range(6)]
    torch.manual_seed(0)
    models = {
        "transformer": MusicTransformer(preset("tiny", vocab, block_size=8)).eval(),
        "ngram": NGramModel(vocab, bos, max_order=3).fit(train[1:], train[:1]),
        "infinigram": InfiniGram(vocab, bos).fit(train),
    }
    prefix = torch.as_tensor(np.stack([train[0][:5], train[1][:5]]))
    for kind, model in models.items():
        assert isinstance(model, GenerativeModel)
        assert model.describe()["kind"] == kind
        decoder = make_decoder(model)
        assert isinstance(decoder, Decoder)
        start = decoder.start(prefix)
        assert start.shape == (2, 5, vocab)
        torch.testing.assert_close(start.exp().sum(-1), torch.ones(2, 5))
        # Past the transformer's block_size (8) too: RoPE has no length limit.
        for t in range(5, 12):
            step = decoder.step(torch.as_tensor([train[0][t], train[1][t]]))
            assert step.shape == (2, vocab)
            torch.testing.assert_close(step.exp().sum(-1), torch.ones(2))
        assert decoder.max_length is None
    with pytest.raises(TypeError, match="cannot generate"):
        make_decoder(object())  # type: ignore[arg-type]


def test_no_module_is_over_600_lines() -> None:
    """One job per module: a module past 600 lines is doing several (split it along its banners)."""
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in (ROOT / "remixmusic").rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 600} == {}
