"""The command line's conventions (issue 10): plain flags in --help, one name per option across commands,
progress on stderr, index folders with the usual permissions; datasets by name everywhere (stats
--compare, the bundled bach-chorales whatever $REMIXMUSIC_DATASETS says); the zero-argument analyze of
any model's output, traced by the model's name and content hash."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from remixmusic._util.files import sha256_file, umask, write_json
from remixmusic.cli import app
from remixmusic.data import build, datasets
from remixmusic.errors import CheckpointError
from remixmusic.generation.checkpoint_info import default_checkpoint_path, read_info
from remixmusic.generation.locate import find_model
from remixmusic.io.midi import write_midi
from tests.conftest import make_piece

runner = CliRunner()


def _commands(command, path=()):
    """(command path, click command) for every leaf command of the CLI."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield path, command
        return
    for name, sub in sorted(subcommands.items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _visible_options(command):
    return [p for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", False)]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_help_shows_flags_without_a_value_type(path) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "BOOLEAN" not in result.output
    command = dict(COMMANDS)[path]
    for option in _visible_options(command):
        if option.is_flag:
            line = next(line for line in result.output.splitlines() if option.opts[-1] in line)
            assert "<" not in line.split(option.opts[-1])[1].split("  ")[0], line


def test_each_option_has_one_name_across_commands() -> None:
    by_dest: dict[str, set[tuple[str, ...]]] = {}
    by_flag: dict[str, set[str]] = {}
    for _, command in COMMANDS:
        for option in _visible_options(command):
            names = tuple(sorted(option.opts))  # a --no-X form may come with a flag on by default
            by_dest.setdefault(option.name, set()).add(names)
            for flag in names:
                by_flag.setdefault(flag, set()).add(option.name)
    assert {dest: names for dest, names in by_dest.items() if len(names) > 1} == {}
    assert {flag: dests for flag, dests in by_flag.items() if len(dests) > 1} == {}
    assert "--force" not in by_flag  # replacing is --overwrite everywhere


def test_every_dataset_command_names_the_datasets_folder_root() -> None:
    for path, command in COMMANDS:
        if path[0] == "dataset":
            flags = {flag for option in _visible_options(command) for flag in option.opts}
            assert "--root" in flags and "--out" not in flags, path


def test_the_old_names_still_work_for_build_and_import(tmp_path) -> None:
    folder = tmp_path / "midi"
    for k in range(3):
        write_midi(make_piece([60 + k, 62, 64 + k, 65]), folder / f"t{k}.mid")
    root = tmp_path / "datasets"
    base = ["dataset", "import", str(folder), "mine", "-j", "1"]
    assert runner.invoke(app, [*base, "--root", str(root)]).exit_code == 0
    refused = runner.invoke(app, [*base, "-o", str(root)])
    assert refused.exit_code == 1 and "exists" in str(refused.exception)
    assert runner.invoke(app, [*base, "-o", str(root), "--force"]).exit_code == 0
    assert runner.invoke(app, [*base, "--root", str(root), "--overwrite"]).exit_code == 0
    clash = runner.invoke(app, [*base, "--root", str(root), "-o", str(tmp_path / "other")])
    assert clash.exit_code == 2
    listed = runner.invoke(app, ["dataset", "list", "--root", str(root)])
    assert listed.exit_code == 0 and "mine" in listed.output


@pytest.fixture
def midi_folder(tmp_path) -> Path:
    folder = tmp_path / "pieces"
    for k in range(3):
        write_midi(make_piece([60 + k, 64, 67, 72 - k, 67, 64]), folder / f"p{k}.mid")
    return folder


def test_progress_goes_to_stderr_and_results_to_stdout(midi_folder) -> None:
    cmd = [sys.executable, "-m", "remixmusic", "stats", str(midi_folder), "-j", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "reading MIDI" in done.stderr and "reading MIDI" not in done.stdout
    assert "descriptors" in done.stdout


def test_progress_bars_are_drawn_on_stderr() -> None:
    from remixmusic._util.parallel import progress_bar
    from remixmusic.generation.training.logs import _progress_bar

    assert progress_bar().console.stderr and _progress_bar(disable=True).console.stderr


def test_index_folders_get_the_usual_permissions(midi_folder, tmp_path) -> None:
    out = tmp_path / "ref.idx"
    result = runner.invoke(app, ["index", str(midi_folder), "-o", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask() for p in out.iterdir())


@pytest.fixture
def mini_root(tmp_path, monkeypatch) -> Path:
    """$REMIXMUSIC_DATASETS pointing at a folder with one small imported dataset, ``mini``."""
    source = tmp_path / "mini-midi"
    for k in range(6):
        write_midi(make_piece([55 + 2 * k, 60, 64 + k, 67, 62 + k]), source / f"m{k}.mid")
    root = tmp_path / "datasets"
    build.import_folder(source, "mini", root=root, jobs=1, show_progress=False)
    monkeypatch.setenv(datasets.ENV_ROOT, str(root))
    return root


def test_stats_compares_with_a_dataset_by_name(midi_folder, mini_root) -> None:
    result = runner.invoke(app, ["stats", str(midi_folder), "--compare", "mini", "--json", "-j", "1"])
    assert result.exit_code == 0, result.output
    folders = json.loads(result.stdout)["folders"]
    assert folders[1]["folder"] == "mini" and folders[1]["n_files"] == 6
    missing = runner.invoke(app, ["stats", str(midi_folder), "--compare", "nope", "-j", "1"])
    assert missing.exit_code == 1 and "no dataset 'nope'" in str(missing.exception)


def test_the_bundled_dataset_is_found_whatever_remixmusic_datasets_says(mini_root) -> None:
    assert datasets.list_datasets()[:2] == ["mini", "bach-chorales"]
    assert len(datasets.load_dataset("bach-chorales").manifest) >= 340
    listed = runner.invoke(app, ["dataset", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "bach-chorales" in listed.output and "mini" in listed.output
    # Datasets built in the checkout are not: the user chose another folder for those.
    assert set(datasets.list_datasets()) <= {"mini", *datasets.BUNDLED_DATASETS}


def _generated_folder(folder: Path, identity: dict) -> Path:
    """A folder as ``remixmusic generate`` writes it: one piece and its sidecar naming ``identity``."""
    write_midi(make_piece([60, 62, 64, 65, 67, 65, 64, 62]), folder / "piece_000.mid")
    write_json(folder / "piece_000.json", {"format": "remixmusic-generated", "midi": "piece_000.mid",
                                            "model": identity})  # fmt: skip
    return folder


@pytest.mark.parametrize("kind", ["remixmusic-ngram", "remixmusic-infinigram"])
def test_zero_argument_analyze_finds_the_training_data_of_count_models(kind, tmp_path, mini_root) -> None:
    from remixmusic.experiment.provenance import reference_from_generation
    from remixmusic.novelty.inputs import read_pieces

    mini = datasets.load_dataset("mini")
    model = tmp_path / "models" / "count-model"
    write_json(model / "ngram.json", {"format": kind, "version": 1, "metadata": {
        "dataset": {"name": "mini", "manifest_hash": mini.manifest_hash, "split": "train"}}})  # fmt: skip
    (model / "ngram.npz").write_bytes(b"counts")
    identity = {"kind": kind, "name": model.name, "path": str(model), "weights_sha256": sha256_file(model / "ngram.npz")}
    folder = _generated_folder(tmp_path / "generated", identity)
    reference, control = reference_from_generation(read_pieces(folder, 1, False), None)
    assert reference == mini.files("train") and control == mini.files("test")


def test_a_sidecar_leads_to_a_shipped_model_by_name_and_hash_from_anywhere(tmp_path, monkeypatch) -> None:
    shipped = default_checkpoint_path("bach-small")
    sha = read_info(shipped).weights_sha256
    elsewhere = {"name": "bach-small", "path": "/gone/checkpoints/bach-small", "weights_sha256": sha}
    assert find_model(elsewhere) == shipped
    monkeypatch.chdir(tmp_path)
    relative = {"name": "renamed", "path": "checkpoints/bach-small", "weights_sha256": sha}
    assert find_model(relative, base=shipped.parents[1]) == shipped.parents[1] / "checkpoints/bach-small"
    with pytest.raises(CheckpointError, match="gone or changed"):
        find_model({**elsewhere, "weights_sha256": "0" * 64})
    with pytest.raises(CheckpointError, match="nor shipped"):
        find_model({"name": "nothing", "path": "/gone/nothing", "weights_sha256": sha})


def test_zero_argument_analyze_of_a_moved_shipped_model_s_pieces(tmp_path, mini_root) -> None:
    """The sidecar's path is stale (another machine) and $REMIXMUSIC_DATASETS hides nothing: the shipped
    model is found by name and hash, and its bundled training data by name."""
    from remixmusic.experiment.provenance import reference_from_generation
    from remixmusic.novelty.inputs import read_pieces

    sha = read_info(default_checkpoint_path()).weights_sha256
    identity = {"kind": "transformer", "name": "bach-small", "path": "/elsewhere/bach-small", "weights_sha256": sha}
    folder = _generated_folder(tmp_path / "generated", identity)
    reference, control = reference_from_generation(read_pieces(folder, 1, False), None)
    chorales = datasets.load_dataset("bach-chorales")
    assert reference == chorales.files("train") and control == chorales.files("test")


def test_analyze_without_against_on_plain_midi_says_what_to_give(tmp_path: Path) -> None:
    """MIDI files that no generation sidecar describes: the error names an example reference and why it
    is needed, not the sidecar machinery."""
    write_midi(make_piece([60, 62, 64, 65, 67, 65, 64, 62] * 2), tmp_path / "song.mid")
    result = CliRunner().invoke(app, ["analyze", str(tmp_path), "-o", str(tmp_path / "out")])
    assert result.exit_code != 0
    message = " ".join(str(result.exception).split()) if result.exception else ""
    assert "--against bach-chorales" in message and "no generation sidecar names a model" in message


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(130)])
def test_ctrl_c_says_interrupted_and_exits_130(monkeypatch, capsys, stop) -> None:
    """typer turns Ctrl-C into a silent exit 130; the command line says what happened."""
    import remixmusic.cli as cli

    def interrupted(**_: object) -> None:
        raise stop

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 130 and "interrupted" in capsys.readouterr().err


def test_a_bad_setting_names_its_option() -> None:
    """`generate --prompt-bars 0` said "sampling prompt_bars must be at least 1": the field, not the
    option the user typed."""
    cmd = [sys.executable, "-c", "from remixmusic.cli import main; main()", "generate", "--prompt-bars", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "1000"})
    assert proc.returncode == 1
    assert "--prompt-bars must be at least 1" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["file", "unmakeable"])
def test_analyze_refuses_an_output_it_cannot_write_before_any_work(tmp_path: Path, monkeypatch, kind) -> None:
    """``-o`` naming a file, or a folder that cannot be made, is refused in one line before the analysis
    runs (it crashed with a traceback after the whole analysis had run); the API's ``save`` refuses too."""
    import remixmusic.experiment.provenance as provenance
    from remixmusic.errors import RemixError, output_folder

    write_midi(make_piece([60, 62, 64, 65, 67, 65, 64, 62] * 2), tmp_path / "song.mid")
    out = tmp_path / "taken"
    if kind == "file":
        out.write_text("x")
    else:
        (tmp_path / "blocker").write_text("x")
        out = tmp_path / "blocker" / "report"  # a folder under a file cannot be made
    monkeypatch.setattr(provenance, "analyze", lambda *a, **k: pytest.fail("the analysis ran"))
    result = CliRunner().invoke(app, ["analyze", str(tmp_path), "--against", "bach-chorales", "-o", str(out)])
    assert result.exit_code != 0 and isinstance(result.exception, RemixError)  # the CLI's one-line error
    assert ("is a file" if kind == "file" else "cannot make the folder") in str(result.exception)
    with pytest.raises(RemixError):
        output_folder(out, "the analysis report")


def test_analyze_takes_a_dataset_name_as_control_for_its_held_out_split(tmp_path: Path) -> None:
    """``--control bach-chorales``: the dataset's held-out (test) split, as with generated pieces and no
    --against (it was refused: "no such file or folder"); an unknown name says what --control takes."""
    chorales = datasets.load_dataset("bach-chorales")
    query = tmp_path / "query"
    query.mkdir()
    (query / "one.mid").write_bytes(chorales.files("train")[0].read_bytes())
    out = tmp_path / "out"
    args = ["analyze", str(query), "--against", "bach-chorales", "--no-originality", "-j", "1", "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--control", "bach-chorales"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["leakage"]["n_control"] == len(chorales.files("test"))
    result = CliRunner().invoke(app, [*args, "--control", "no-such-corpus"])
    assert result.exit_code != 0 and "no such file, folder or dataset" in str(result.exception)
    # the Python API takes the name the same way
    from remixmusic.experiment.provenance import analyze

    report = analyze(query, "bach-chorales", control="bach-chorales", jobs=1, show_progress=False, originality=False)
    assert report.leakage["n_control"] == len(chorales.files("test"))
