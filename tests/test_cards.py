"""Model cards (sourced_neuron.analysis.cards): the lif card measured on Brian2, and backends that cannot run."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

from sourced_neuron import load_model
from sourced_neuron.analysis import cards
from sourced_neuron.cli.main import main
from sourced_neuron.common.errors import BackendUnavailableError, InputError
from sourced_neuron.spec.units import as_quantity, si_magnitude

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _table(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row starts with ``| first_header |``."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def lif_card(tmp_path_factory):
    out = tmp_path_factory.mktemp("cards")
    path = cards.write_card("lif", out_dir=out, backends=["brian2"], duration="200 ms", fi_points=6)
    return path, path.read_text(encoding="utf-8")


@pytest.mark.brian2
@pytest.mark.slow
def test_lif_card_parameters_and_equations(lif_card):
    path, text = lif_card
    model = load_model("lif")
    assert path.name == "lif.md"
    assert model.content_hash in text
    for equation in model.equations:
        if equation.port is None:
            assert equation.text() in text
    assert "- threshold: `v > V_th`" in text
    assert "- reset: `v = V_reset`" in text
    rows = {row[0].strip("`"): row for row in _table(text, "name")}
    assert set(rows) == set(model.parameter_names)
    # each row holds its own parameter's value and unit, not another's
    assert rows["tau_m"][1:3] == ["10", "`ms`"]
    assert rows["R_m"][1:3] == ["100", "`Mohm`"]
    assert rows["t_ref"][1:3] == ["2", "`ms`"]
    for name, value in model.parameters:
        quantity = as_quantity(f"{rows[name][1]} {rows[name][2].strip('`')}", name, value.dimension)
        assert si_magnitude(quantity) == pytest.approx(value.magnitude, rel=1e-12), name
    assert "`exact`" in text and "0.1 ms" in text


@pytest.mark.brian2
@pytest.mark.slow
def test_lif_card_measurements(lif_card):
    path, text = lif_card
    params = load_model("lif").parameter_values()
    rheobase_pa = float((params["V_th"] - params["E_L"]) / params["R_m"]) * 1e12  # 150 pA
    stated = float(re.search(r"\*\*Rheobase: ([-\d.e]+) pA\*\*", text).group(1))
    assert stated == pytest.approx(rheobase_pa, rel=0.01)
    fi = np.array([[float(cell) for cell in row] for row in _table(text, "current (pA)")])
    currents, rates = fi[:, 0], fi[:, 1]
    assert len(currents) >= 4 and np.all(np.diff(currents) > 0)
    assert np.all(np.diff(rates) >= 0), rates
    assert np.all(rates[currents < rheobase_pa] == 0)
    assert np.any(currents < rheobase_pa) and np.all(rates[currents > 1.1 * rheobase_pa] > 0)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "lif_fi.png" in images and len(images) == 4  # three steps and the f-I curve
    for name in images:
        width, height = _png_size((path.parent / name).read_bytes())
        assert width > 100 and height > 100
    assert "`brian2`: used (brian2 " in text
    assert "Only one backend was measured (`brian2`)" in text


@pytest.mark.brian2
@pytest.mark.slow
def test_unusable_backend_is_stated_in_the_card(lif_card, tmp_path, monkeypatch):
    status = cards.backend_status()
    monkeypatch.setattr(cards, "backend_status", lambda: status | {"nest": "NEST is missing (in this test)"})
    text = cards.write_card("lif", tmp_path, backends=["brian2", "nest"], duration="200 ms", fi_points=6).read_text()
    assert "- `nest`: **not usable here**, so not measured: NEST is missing (in this test)" in text
    assert "| `nest` |" in text  # the numerics table still says what NEST would run
    assert "nest (Hz)" not in text


def test_unknown_backend_is_refused(tmp_path, capsys):
    with pytest.raises(InputError, match=r"unknown backend 'brain2'.*brian2"):
        cards.write_card("lif", tmp_path, backends=["brain2"])
    assert main(["card", "lif", "--out", str(tmp_path), "--backends", "brian2,nset"]) == 2
    assert "unknown backend 'nset'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_no_usable_backend_names_the_reasons(tmp_path, monkeypatch):
    monkeypatch.setattr(cards, "backend_status", lambda: {"nest": "NEST is missing (in this test)"})
    with pytest.raises(BackendUnavailableError, match="nest: NEST is missing"):
        cards.write_card("lif", tmp_path, backends=["nest"])


def test_comments_of_the_model_file_describe_parameters_and_presets():
    izhikevich = cards.file_comments(cards._source_text(load_model("izhikevich")), "parameters")
    assert izhikevich["a"] == "recovery time scale (1/ms)"
    assert izhikevich["C_m"].startswith("1 pA of I_ext")
    presets = cards.file_comments(cards._source_text(load_model("adex")), "presets")
    assert presets["tonic"] == "Fig. 4a, I = 500 pA"
    assert presets["transient"].startswith("Fig. 4g, I = 180 pA")  # the comment lines above the entry
    assert "C_m" not in presets  # the presets' own values are not entries
    assert cards.file_comments(cards._source_text(load_model("hh")), "parameters") == {
        "V_spike": "spike detection level"
    }
