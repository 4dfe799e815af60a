"""The SourcedNeuron API as a whole: the 100 names, where they live, their aliases, their
documentation, and that the section tests call every one of them."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import sourced_neuron
from sourced_neuron.wrapper import NAMES, SECTIONS, SourcedNeuron
from sourced_neuron.wrapper.apidoc import _example, _summary, api_markdown
from sourced_neuron.wrapper.seed_api import snake_case

ROOT = Path(__file__).parent.parent


def test_one_hundred_names_each_in_its_sections_module():
    assert len(NAMES) == len(set(NAMES)) == 100
    assert sourced_neuron.SourcedNeuron is SourcedNeuron
    for module_name, names in SECTIONS.values():
        module = importlib.import_module(f"sourced_neuron.wrapper.{module_name}")
        for name in names:
            function = inspect.getattr_static(SourcedNeuron, name)
            defined_in = next(k for k in SourcedNeuron.__mro__ if name in vars(k))
            assert defined_in.__module__ == module.__name__, (name, defined_in.__module__)
            assert function is inspect.getattr_static(SourcedNeuron, snake_case(name))  # the PEP 8 alias


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("ActReLU", "act_relu"),
        ("CheckNaN", "check_nan"),
        ("MSELoss", "mse_loss"),
        ("L1Reg", "l1_reg"),
        ("RMSProp", "rmsprop"),
        ("ExportJSON", "export_json"),
        ("EnableGPU", "enable_gpu"),
        ("SetLR", "set_lr"),
    ],
)
def test_pep8_aliases(name, alias):
    assert snake_case(name) == alias


def test_every_function_is_documented_with_an_example():
    for name in NAMES:
        doc = inspect.getdoc(getattr(SourcedNeuron, name)) or ""
        assert _summary(doc), name
        assert _example(doc), name


def test_docs_api_md_is_generated_from_the_docstrings():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert text == api_markdown(), "regenerate: python -m sourced_neuron.wrapper.apidoc docs/api.md"
    assert len(re.findall(r"^\| \d+ \|", text, flags=re.MULTILINE)) == 100


def test_the_section_tests_call_every_function():
    """Each name appears as a call, or (parametrised tests calling ``getattr(neuron, name)``)
    as a string in a file that calls that way."""
    calls = set()
    for path in (ROOT / "tests").glob("test_wrapper_*.py"):
        text = path.read_text(encoding="utf-8")
        calls |= set(re.findall(r"\.([A-Z][A-Za-z0-9]+)\(", text))  # neuron.Name(...)
        calls |= set(re.findall(r"getattr\(\w+, (\w+)\)", text)) and set(re.findall(r'"([A-Z]\w+)"', text))
    assert [name for name in NAMES if name not in calls] == []
