"""The boundary of the wrapper: every argument of every public method of
:class:`~sourced_neuron.SourcedNeuron` is checked against the method's type hints before the
method runs, so a wrong argument is an :class:`~sourced_neuron.common.errors.InputError` (never a plain
``TypeError`` or ``ValueError`` from deep inside NumPy, Brian2 or ``pathlib``).

How it works
------------
:func:`check_methods` replaces each public method of a class of this package (and
``__init__``) with :func:`checked`'s wrapper; ``NeuronCore.__init_subclass__`` calls it for every
section of the API, so one mechanism covers all the methods and their PEP 8 aliases. The wrapper

1. binds the arguments to the signature (a missing or unknown argument is an ``InputError``);
2. checks each argument against its hint (:func:`problem`): the types below, unions, ``None``,
   ``Mapping[K, V]``, ``Sequence[X]``/``Iterable[X]`` (items of a list or tuple are checked too),
   ``Callable``, ``Literal`` and classes;
3. runs the value checks that hints cannot express, attached to a hint with
   ``typing.Annotated``: every number must be finite (any ``float`` hint), arrays must hold
   finite numbers of a regular shape (:data:`ArrayLike`), input vectors must have one number per
   input (:data:`Vector`, :data:`Inputs`, :data:`Batch`), file names must not be empty or hold a
   null byte (:data:`PathLike`), values with units must be single values (:data:`WithUnits`);
4. runs the method; an ``InputError`` the method's own checks raise (a range, a name, a unit)
   gets the method's name in front of its message.

The message names the method, the argument, what it expects and what it got::

    SetBias: argument 'b' expects a finite number, got list [0.5]

Only the outermost call is checked: the calls the wrapper makes to its own methods (``MainLoop``
calls ``ProcInput``, ``Train`` calls ``BackProp``) pass values the library made, so a wrong type
there is the library's bug and stays visible as the exception it raised (a ``TypeError`` from
inside the library is never turned into an ``InputError``). A user's callback
(``WatchWeight``) runs outside (:func:`user_code`), so its own calls are checked again.

Numbers: a ``float`` hint takes Python and NumPy integers and floats (not ``bool``) and 0-d
NumPy arrays; an ``int`` hint takes Python and NumPy integers only (``2.0`` is refused); a
``bool`` hint takes ``True`` or ``False`` only.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import contextvars
import functools
import inspect
import os
import reprlib
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import numpy as np
import quantities as pq
from brian2.units.fundamentalunits import Quantity as Brian2Quantity

from sourced_neuron.common.errors import InputError

__all__ = [
    "ArrayLike",
    "Batch",
    "Duration",
    "Expect",
    "Inputs",
    "PathLike",
    "Vector",
    "WithUnits",
    "check_methods",
    "checked",
    "problem",
    "user_code",
]


@dataclass(frozen=True)
class Expect:
    """``Annotated`` metadata: what an argument of this type expects, in words."""

    text: str


# --- value checks: (value, neuron) -> the problem, or None ------------------------------------


def _float_array(value: Any) -> tuple[np.ndarray | None, str | None]:
    """``value`` as a float array, or the reason it is not numbers."""
    if isinstance(value, np.ndarray) and np.iscomplexobj(value):  # NumPy would drop the imaginary parts
        return None, f"must hold real numbers, got {got(value)}"
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        detail = "items of unequal lengths" if "inhomogeneous" in str(error) else str(error)
        return None, f"must hold only numbers in a regular shape ({detail}), got {got(value)}"
    return array, None


def finite_numbers(value: Any, neuron: Any) -> str | None:
    """Numbers (any shape), all finite."""
    array, why = _float_array(value)
    if why is not None:
        return why
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        index = tuple(int(k) for k in bad[0])
        items = np.asarray(value, dtype=object)  # the item as given (None reads as NaN)
        item = items[index] if items.shape == array.shape else array[index]
        where = "" if array.ndim == 0 else f" at index {', '.join(map(str, index))}"
        return f"must hold finite numbers (no NaN or infinity), got {item!r}{where} of {got(value)}"
    return None


def _shape(ndims: tuple[int, ...]) -> Callable[[Any, Any], str | None]:
    """A value check: an array whose last axis has one number per input of the neuron and whose
    number of dimensions is one of ``ndims`` (1: a vector, 2: rows of vectors)."""

    def check(value: Any, neuron: Any) -> str | None:
        array = np.asarray(value, dtype=float)  # finite_numbers ran first
        n = len(neuron.weights)
        if array.ndim == 0 and n == 1 and 1 in ndims:
            return None  # one input: a number is the vector
        if array.ndim in ndims and array.shape[-1:] == (n,):
            return None
        if ndims == (1,):
            return f"must have {n} values (one per input), got shape {array.shape}"
        shapes = " or ".join({1: f"({n},)", 2: f"(rows, {n})"}[k] for k in ndims)
        return f"must have shape {shapes} (one number per input; the neuron has {n}), got shape {array.shape}"

    check.__name__ = f"shape_{'_'.join(map(str, ndims))}"
    return check


def _single_value(value: Any, neuron: Any) -> str | None:
    """One value (not an array) of a value with units; a plain number must be finite."""
    if isinstance(value, np.ndarray) and value.ndim != 0:
        return f"must be one value, got an array of shape {value.shape}"
    if isinstance(value, int | float | np.number) and not np.isfinite(float(value)):
        return f"must be finite, got {got(value)}"
    return None


def file_name(value: Any, neuron: Any) -> str | None:
    """A usable file name: not empty, no null byte."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(text, bytes):
        return f"expects a file name as text, got a path of bytes {text!r}"
    if isinstance(text, str):
        if not text:
            return "expects a file name, got an empty string ''"
        if "\x00" in text:
            return f"is a file name with a null byte, got {text!r}"
    return None


# --- the argument types of the API ---------------------------------------------------------------

#: numbers: a number, or a (nested) list, tuple or array of numbers, all finite
ArrayLike = Annotated[
    float | Sequence[Any] | np.ndarray, Expect("numbers (a number, or a list or array of numbers)"), finite_numbers
]
#: one number per input of the neuron
Vector = Annotated[ArrayLike, Expect("one number per input (a list or array)"), _shape((1,))]
#: an input vector (one number per input) or a batch of them (rows)
Inputs = Annotated[ArrayLike, Expect("an input vector (one number per input) or rows of them"), _shape((1, 2))]
#: a batch of inputs: rows of one number per input
Batch = Annotated[ArrayLike, Expect("a batch of inputs (rows of one number per input)"), _shape((2,))]
#: a value with units: a string such as "200 pA", a number (in the unit the method names), or a quantity
WithUnits = Annotated[
    str | float | pq.Quantity | Brian2Quantity,
    Expect("a value with units (a string such as '200 pA', a number, or a quantities or Brian2 quantity)"),
    _single_value,
]
#: a duration: a string such as "10 ms", or a quantity (a plain number has no unit and is refused)
Duration = Annotated[
    str | pq.Quantity | Brian2Quantity,
    Expect("a duration (a string such as '10 ms', or a quantities or Brian2 quantity)"),
    _single_value,
]
#: a file name: a string or a path (not bytes, not empty, no null byte)
PathLike = Annotated[str | os.PathLike, Expect("a file name (a string or a path)"), file_name]


# --- describing values and types ---------------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def got(value: Any) -> str:
    """``value`` for a message: its type and a short repr (arrays by shape and dtype)."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        units = f" ({value.dimensionality.string})" if isinstance(value, pq.Quantity) else ""
        return f"{type(value).__name__} of shape {value.shape} and dtype {value.dtype}{units}"
    if value is None or isinstance(value, bool):
        return repr(value)
    return f"{type(value).__name__} {_REPR.repr(value)}"


_WORDS: dict[Any, str] = {
    float: "a finite number",
    int: "an integer",
    bool: "True or False",
    str: "a string",
    type(None): "None",
    type: "a type",
    os.PathLike: "a path",
    np.ndarray: "a NumPy array",
    pq.Quantity: "a quantities quantity",
    Brian2Quantity: "a Brian2 quantity",
}


def describe(hint: Any) -> str:
    """What ``hint`` expects, in words."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return "None"
    if origin is Annotated:
        texts = [item.text for item in hint.__metadata__ if isinstance(item, Expect)]
        return texts[-1] if texts else describe(args[0])
    if origin in (Union, types.UnionType):
        words = list(dict.fromkeys(describe(member) for member in args))
        return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is Any:
        return "anything"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        key, item = args if args else (Any, Any)
        return f"a mapping (keys: {describe(key)}; values: {describe(item)})"
    if origin is not None and _is_callable_hint(origin):
        return "a function (a callable)"
    if origin is not None:
        item = describe(args[0]) if args else "anything"
        return f"a list (items: {item})"
    if hint in _WORDS:
        return _WORDS[hint]
    if isinstance(hint, type):
        name = hint.__name__
        return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    return str(hint)


def _is_callable_hint(origin: Any) -> bool:
    return origin is Callable


# --- checking a value against a hint -----------------------------------------------------------


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` names, at the top level (items not checked)."""
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        return _fits(value, args[0])
    if origin in (Union, types.UnionType):
        return any(_fits(value, member) for member in args)
    if origin is Literal:
        return any(type(value) is type(choice) and value == choice for choice in args)
    if hint is float:
        if isinstance(value, bool | np.bool_):
            return False
        if isinstance(value, int | float | np.integer | np.floating):
            return True
        return type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "iuf"
    if hint is int:
        return isinstance(value, int | np.integer) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if origin is not None:
        if _is_callable_hint(origin):
            return callable(value)
        if isinstance(value, str | bytes | bytearray):
            return False  # text is not a list of characters here
        return isinstance(value, origin)
    if isinstance(hint, type):
        return isinstance(value, hint)
    raise TypeError(f"the wrapper cannot check the type hint {hint!r}")  # the library's bug


def problem(value: Any, hint: Any, neuron: Any = None) -> str | None:
    """What is wrong with ``value`` as an argument of type ``hint`` (``neuron``: the neuron the
    value checks compare with), as the end of a sentence naming the argument; ``None`` when
    nothing is."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        first = None
        for member in args:
            if _fits(value, member):
                found = problem(value, member, neuron)
                if found is None:
                    return None
                first = first or found
        return first or f"expects {describe(hint)}, got {got(value)}"
    if not _fits(value, hint):
        return f"expects {describe(hint)}, got {got(value)}"
    if origin is Annotated:
        found = problem(value, args[0], neuron)
        if found is not None:
            return found
        for check in hint.__metadata__:
            if not isinstance(check, Expect) and callable(check):
                found = check(value, neuron)
                if found is not None:
                    return found
        return None
    if hint is float:
        if not np.isfinite(float(value)):
            return f"must be a finite number, got {got(value)}"
        return None
    if origin is None or _is_callable_hint(origin) or not args or not isinstance(value, list | tuple | dict):
        return None  # no items to check (a generator is not consumed)
    if isinstance(value, dict):
        key_hint, item_hint = args if len(args) == 2 else (Any, Any)
        for key, item in value.items():
            found = problem(key, key_hint, neuron)
            if found is not None:
                return f"has a key that {found}"
            found = problem(item, item_hint, neuron)
            if found is not None:
                return f"[{key!r}] {found}"
        return None
    item_hints = args if origin is tuple and Ellipsis not in args else (args[0],) * len(value)
    for index, (item, item_hint) in enumerate(zip(value, item_hints, strict=False)):
        found = problem(item, item_hint, neuron)
        if found is not None:
            return f"item {index} {found}"
    return None


# --- the wrapper -------------------------------------------------------------------------------

#: True while a checked method runs: the calls it makes to other methods are not checked again
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("sourced_neuron_wrapper_call", default=False)


@contextmanager
def user_code() -> Iterator[None]:
    """Run the user's code (a callback) as outside the wrapper: its calls are checked."""
    token = _INSIDE.set(False)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def _method_name(function: Callable, neuron: Any) -> str:
    return type(neuron).__name__ if function.__name__ == "__init__" else function.__name__


def _name_error(error: InputError, method: str) -> None:
    """Put ``method`` in front of the message of ``error`` (unless it starts with it)."""
    message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    if not message.startswith(method):
        error.args = (f"{method}: {message}", *error.args[1:])


def checked(function: Callable) -> Callable:
    """``function`` (a method) with its arguments checked against its type hints at the
    boundary of the wrapper (see the module docstring)."""
    if getattr(function, "__sourced_neuron_checked__", False):
        return function
    signature = inspect.signature(function)

    @functools.cache
    def resolved() -> dict[str, Any]:
        """The hints of the arguments, resolved on the first call (they name classes defined
        after the method)."""
        every = typing.get_type_hints(function, include_extras=True)
        return {name: every.get(name, Any) for name in list(signature.parameters)[1:]}

    @functools.wraps(function)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _INSIDE.get():
            return function(self, *args, **kwargs)
        token = _INSIDE.set(True)
        try:
            _check_call(function, signature, resolved(), self, args, kwargs)
            return function(self, *args, **kwargs)
        except InputError as error:
            _name_error(error, _method_name(function, self))
            raise
        finally:
            _INSIDE.reset(token)

    method.__sourced_neuron_checked__ = True  # type: ignore[attr-defined]
    method.argument_hints = resolved  # type: ignore[attr-defined]
    return method


def _check_call(
    function: Callable, signature: inspect.Signature, hints: dict[str, Any], neuron: Any, args: tuple, kwargs: dict
) -> None:
    name = _method_name(function, neuron)
    try:
        bound = signature.bind(neuron, *args, **kwargs)
    except TypeError as error:
        shown = str(signature).replace("(self, ", "(").replace("(self)", "()").replace("'", "")
        raise InputError(f"{name}: {error} (the signature is {name}{shown})") from error
    for argument, value in list(bound.arguments.items())[1:]:
        parameter = signature.parameters[argument]
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        found = problem(value, hints[argument], neuron)
        if found is not None:
            raise InputError(f"{name}: argument {argument!r} {found}")


def check_methods(cls: type) -> None:
    """Check the arguments of the public methods (and ``__init__``) defined in ``cls`` itself;
    an alias (``fit = Train``) stays the same object as its method."""
    done: dict[int, Callable] = {}
    for name, value in list(vars(cls).items()):
        if (name.startswith("_") and name != "__init__") or not inspect.isfunction(value):
            continue
        if id(value) not in done:
            done[id(value)] = checked(value)
        setattr(cls, name, done[id(value)])


def iter_hints(cls: type) -> Iterable[tuple[str, str, Any]]:
    """``(method, argument, hint)`` of every checked method of ``cls`` (resolving every hint:
    an unsupported one raises here)."""
    for name in dir(cls):
        value = inspect.getattr_static(cls, name)
        function = getattr(value, "function", value)
        resolve = getattr(function, "argument_hints", None)
        if resolve is None:
            continue
        for argument, hint in resolve().items():
            describe(hint)
            _fits(_Nothing(), hint)  # every form of the hint is one the checker knows
            yield name, argument, hint


class _Nothing:
    """A value of no type a hint names (so that checking it visits every member of a union)."""
