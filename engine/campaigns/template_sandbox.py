"""The sandbox message templates run in: Jinja's immutable sandbox, bounded so no template can take a worker's
memory or CPU.

Jinja's own sandbox keeps a template away from Python's internals, but not from building a gigabyte string
(`{{ x|center(10**9) }}`, `'{:>999999999}'.format(x)`, a `replace` that doubles its text forty times) or
looping for hours. Here every operator, filter and method that can make text or a list larger than its
inputs is checked BEFORE it runs, against what its result would be, and every result is held to
`MAX_MESSAGE_CHARS` (the message's own cap): whole numbers to `MAX_NUMBER_BITS`, `range` to `MAX_RANGE`
items, powers to `MAX_EXPONENT`, macros to `MAX_MACRO_DEPTH` calls deep, and one rendering to
`MAX_RENDER_STEPS` loop iterations and calls. The output is counted as it is written and stops at the cap.
A template that trips a bound raises `TooLarge`, naming the operator, filter or method that did. An e-mail's
HTML part may write up to `MAX_HTML_CHARS` (a whole designed e-mail); the values in it stay held to the rest.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from types import BuiltinMethodType
from typing import Any

from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

MAX_MESSAGE_CHARS = 10_000  # far above an SMS or a marketing e-mail's text; also the longest text or list made
MAX_HTML_CHARS = 102_400  # an e-mail's HTML part: Gmail clips a message past 102 kB, so longer cannot be meant
MAX_RANGE = 100
MAX_EXPONENT = 100
MAX_NUMBER_BITS = 14_000  # about 4,200 digits (Python prints at most 4,300)
MAX_MACRO_DEPTH = 20
MAX_RENDER_STEPS = 10_000  # loop iterations and calls in one rendering


class TooLarge(SecurityError):
    """A template tripped one of the sandbox's bounds; `token` is the operator, filter or method that did."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


@dataclass
class _Work:
    """What one rendering has spent so far."""

    steps: int = 0
    macro_depth: int = 0


_work: ContextVar[_Work] = ContextVar("template_work")


def render_bounded(template: Template, values: Mapping[str, Any], limit: int = MAX_MESSAGE_CHARS) -> str:
    """The template rendered with `values`, within every bound of the sandbox (`TooLarge` when it trips one), its
    output at most `limit` characters (an HTML part's is `MAX_HTML_CHARS`)."""
    token = _work.set(_Work())
    try:
        written = 0
        parts = []
        for part in template.generate(values):
            written += len(part)
            if written > limit:
                raise TooLarge(f"the message is longer than {limit:,} characters", "")
            parts.append(part)
        return "".join(parts)
    except RecursionError:
        raise TooLarge("the template nests or calls itself too deeply", "") from None
    finally:
        _work.reset(token)


def _step(token: str) -> None:
    work = _work.get()
    work.steps += 1
    if work.steps > MAX_RENDER_STEPS:
        raise TooLarge(f"a message is rendered in at most {MAX_RENDER_STEPS:,} loop iterations and calls", token)


def _bounded_size(size: int, token: str) -> None:
    if size > MAX_MESSAGE_CHARS:
        raise TooLarge(f"`{token}` would make text or a list longer than {MAX_MESSAGE_CHARS:,}", token)


def _checked(result: Any, token: str) -> Any:
    """`result`, if it is not text or a collection larger than the cap."""
    if isinstance(result, Sized) and not isinstance(result, range):
        _bounded_size(len(result), token)
    return result


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value))


def _count(value: Any) -> int:
    """A width or count argument as a number (anything else fails later, in the filter or method itself)."""
    return value if isinstance(value, int) else 0


def _replaced_length(text: str, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _joined_length(items: list[Any], separator: Any) -> int:
    return sum(_length(item) for item in items) + max(len(items) - 1, 0) * _length(separator)


_NUMBERS = re.compile(r"\d+")
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?([^a-zA-Z%]*)[a-zA-Z%]")


def _check_format_spec(spec: str, token: str) -> None:
    """Refuse widths and precisions above the cap in a format spec (`{:>999999999}`, `%.999999999f`)."""
    if "*" in spec or "{" in spec:
        raise TooLarge(f"`{token}` takes no width or precision from its arguments in a message", token)
    if any(int(number) > MAX_MESSAGE_CHARS for number in _NUMBERS.findall(spec)):
        raise TooLarge(f"`{token}` pads or rounds to at most {MAX_MESSAGE_CHARS:,} characters in a message", token)


def _check_printf(template: Any, token: str) -> None:
    if isinstance(template, str):
        for spec in _PRINTF_SPEC.findall(template):
            _check_format_spec(spec, token)


def _check_str_format(template: str, token: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(template):
        if spec:
            _check_format_spec(spec, token)


# What a filter's result would measure, from its arguments (after Jinja's context argument, if it takes one).
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80: max(_length(value), _count(width)),
    "indent": lambda s, width=4, first=False, blank=False: (
        _length(s) + (str(s).count("\n") + 1) * (len(width) if isinstance(width, str) else _count(width))
    ),
    "wordwrap": lambda s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True: (
        _length(s) + (_length(s) // max(_count(width), 1) + str(s).count("\n") + 1) * _length(wrapstring or "\n")
    ),
    "replace": lambda s, old, new, count=None: _replaced_length(str(s), old, new, count),
    "join": lambda value, d="", attribute=None: _joined_length(value, d) if attribute is None else 0,
    "sum": lambda iterable, attribute=None, start=0: sum(
        len(item) for item in (start, *iterable) if isinstance(item, Sized) and attribute is None
    ),
    "slice": lambda value, slices, fill_with=None: _count(slices),
    "batch": lambda value, linecount, fill_with=None: _count(linecount),
    "tojson": lambda value, indent=None: _length(value) * (1 + _count(indent)),
}
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "format": lambda value, *args, **kwargs: _check_printf(value, "format"),
}
# The same for methods of text, from the text and the arguments.
_METHOD_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda text, width, fillchar=" ": max(len(text), _count(width)),
    "ljust": lambda text, width, fillchar=" ": max(len(text), _count(width)),
    "rjust": lambda text, width, fillchar=" ": max(len(text), _count(width)),
    "zfill": lambda text, width: max(len(text), _count(width)),
    "expandtabs": lambda text, tabsize=8: len(text) + text.count("\t") * _count(tabsize),
    "replace": lambda text, old, new, count=-1: _replaced_length(text, old, new, count),
    "join": lambda text, iterable: _joined_length(iterable, text),
    "translate": lambda text, table: (
        len(text) * max((_length(v) for v in table.values()), default=1) if isinstance(table, dict) else len(text)
    ),
}


def _listed(value: Any) -> Any:
    """A one-shot iterator as a list, so its size can be measured before it is used (others as they are)."""
    return list(value) if isinstance(value, Iterator) else value


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    size = _FILTER_SIZES.get(name)
    check = _FILTER_CHECKS.get(name)
    skip = 0 if _PassArg.from_obj(function) is None else 1  # Jinja's context, environment or eval context

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if size is not None and len(args) > skip:
            args = (*args[:skip], _listed(args[skip]), *args[skip + 1 :])
            _bounded_size(size(*args[skip:], **kwargs), name)
        if check is not None:
            check(*args[skip:], **kwargs)
        return _checked(function(*args, **kwargs), name)

    return bounded


@contextmanager
def _macro_call(name: str) -> Iterator[None]:
    work = _work.get()
    if work.macro_depth >= MAX_MACRO_DEPTH:
        raise TooLarge(f"macros call each other at most {MAX_MACRO_DEPTH} deep in a message", name)
    work.macro_depth += 1
    try:
        yield
    finally:
        work.macro_depth -= 1


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TooLarge(f"range() is limited to {MAX_RANGE} items in a message", "range")
    return numbers


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, sending `~` and every loop's items through the sandbox's bounds."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = nodes.Call(nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None, lineno=node.lineno)
        loop = nodes.For(node.target, counted, node.body, node.else_, node.test, node.recursive, lineno=node.lineno)
        super().visit_For(loop, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no `list.append` doubling a list) with the bounds of this module."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}
        self.globals["range"] = _bounded_range
        del self.globals["lipsum"]  # paragraphs of lorem ipsum, as many as asked for

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise TooLarge(f"powers above {MAX_EXPONENT} are not allowed in a message", operator)
        if operator == "%":
            _check_printf(left, operator)
        sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        if operator == "+" and sequences:
            _bounded_size(len(left) + len(right), operator)
        repeated = left if isinstance(left, str | list | tuple) else right
        count = right if repeated is left else left
        repeats = operator == "*" and isinstance(repeated, str | list | tuple) and isinstance(count, int)
        if repeats and len(repeated) * count > MAX_MESSAGE_CHARS:
            raise TooLarge(f"repeating text beyond {MAX_MESSAGE_CHARS:,} characters is not allowed", operator)
        grows = {"*": _bits(left) + _bits(right), "**": _bits(left) * (right if isinstance(right, int) else 0)}
        if grows.get(operator, 0) > MAX_NUMBER_BITS:
            raise TooLarge(f"numbers are limited to {MAX_NUMBER_BITS:,} bits in a message", operator)
        return _checked(super().call_binop(context, operator, left, right), operator)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call an object from a template, once its result is known to fit (Jinja's signature)."""
        name = __obj.name if isinstance(__obj, Macro) else getattr(__obj, "__name__", "call")
        _step(name)
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        text = getattr(method, "__self__", None)
        if isinstance(method, BuiltinMethodType) and isinstance(text, str):
            if name in ("format", "format_map"):
                _check_str_format(text, name)
            elif name in _METHOD_SIZES:
                args = (_listed(args[0]), *args[1:]) if args else args
                _bounded_size(_METHOD_SIZES[name](text, *args, **kwargs), name)
        with _macro_call(name) if isinstance(__obj, Macro) else nullcontext():
            return _checked(super().call(__context, __obj, *args, **kwargs), name)

    def concat(self, parts: Iterable[Any]) -> str:
        """`a ~ b`: the parts as one text, if it fits."""
        texts = [str(part) for part in parts]
        _bounded_size(sum(len(text) for text in texts), "~")
        return "".join(texts)

    def counted(self, items: Iterable[Any]) -> Iterator[Any]:
        """A loop's items, each counted against the rendering's steps."""
        for item in items:
            _step("for")
            yield item
