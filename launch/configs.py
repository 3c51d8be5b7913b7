"""One config mechanism for every command: ``--config=FILE.py[:ARG]`` and typed ``--set key=value``.

``launch.study``, ``launch.evaluate`` and ``launch.probe`` read their settings the same way
(big_vision style): a config file defines ``get_config(arg)`` returning an
``ml_collections.ConfigDict`` (or dict) with some of the command's fields; its values are
checked against the type of each field's default (:func:`merge`), then each ``--set``
override is parsed strictly by that type (:func:`apply_overrides`). Every mistake is a
:class:`ConfigError` with the same wording in every command: one paragraph naming the
field and the fix. For evaluate and probe, whose fields are their flags
(:func:`flag_settings`), a flag given on the command line wins over the file and ``--set``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ml_collections
from absl import flags


class ConfigError(ValueError):
  """A bad config: printed as one paragraph, exit status 2, nothing written."""


def _fail(message: str):
  raise ConfigError(message)


def _resolve(spec: str, builtin: Path | None) -> tuple[Path, str]:
  """(the file ``spec`` names, its ARG); a bare name picks a built-in config of ``builtin``."""
  path_text, _, arg = spec.partition(":")
  path = Path(path_text).expanduser()
  if builtin is not None:
    if not path.exists() and (builtin / path.name).exists() and path.parent == Path("."):
      path = builtin / path.name
    if not path.exists() and (builtin / f"{path_text}.py").exists():
      path = builtin / f"{path_text}.py"
  if not path.is_file():
    known = (f", or one of the built-in configs "
             f"{sorted(p.stem for p in builtin.glob('*.py') if p.stem != '__init__')}" if builtin else "")
    _fail(f"--config={spec}: no config file {path_text}. Pass a .py file defining get_config(arg){known}.")
  return path, arg


def load_file(spec: str, builtin: Path | None = None) -> tuple[dict, str]:
  """(the fields ``get_config(ARG)`` of ``FILE.py[:ARG]`` returns, as a dict; the source text).
  ``builtin``: a folder whose configs a bare name (``paper``, ``paper.py``) picks."""
  path, arg = _resolve(spec, builtin)
  module_spec = importlib.util.spec_from_file_location(f"_overlap_config_{path.stem}", path)
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
      _fail(f"--config={spec}: {path} defines no get_config(arg); add one returning an ml_collections.ConfigDict.")
    loaded = module.get_config(arg) if arg else module.get_config()
  except ConfigError:
    raise
  except Exception as error:  # the file's own error, reported as one paragraph
    _fail(f"--config={spec}: get_config of {path} failed ({type(error).__name__}: {error}); fix the config file "
          "or its argument.")
  if not isinstance(loaded, (ml_collections.ConfigDict, dict)):
    _fail(f"--config={spec}: get_config returned {type(loaded).__name__}; return an ml_collections.ConfigDict.")
  loaded = loaded.to_dict() if isinstance(loaded, ml_collections.ConfigDict) else dict(loaded)
  return loaded, f"{path}" + (f":{arg}" if arg else "")


def merge(loaded, defaults: ml_collections.ConfigDict, source: str = "the config",
          documented: str = "") -> ml_collections.ConfigDict:
  """``loaded``'s fields over a copy of ``defaults``; an unknown or mistyped field is a
  ConfigError (``documented`` says where the fields are documented)."""
  config = ml_collections.ConfigDict(defaults.to_dict())
  loaded = loaded.to_dict() if isinstance(loaded, ml_collections.ConfigDict) else dict(loaded)
  for key, value in loaded.items():
    if key not in config:
      close = [k for k in config if k[:4] == key[:4]]
      _fail(f"config field {key!r} (in {source}) is unknown{f'; did you mean {close[0]!r}' if close else ''}. "
            f"Known fields: {', '.join(sorted(config))}{f' ({documented} documents each)' if documented else ''}.")
    if isinstance(config[key], ml_collections.ConfigDict):
      config[key] = _merge_nested(key, config[key], value, source)
    else:
      config[key] = _typed(key, config[key], value, source)
  return config


def _merge_nested(key: str, defaults_of: ml_collections.ConfigDict, value, source: str) -> ml_collections.ConfigDict:
  """``value``'s fields over the nested config ``key`` (``linear_probe.split``, ``sections.<name>.<field>``),
  recursively; an unknown or mistyped field is a ConfigError naming its dotted key."""
  value = {} if value is None or value == "" else value
  value = value.to_dict() if isinstance(value, ml_collections.ConfigDict) else value
  if not isinstance(value, dict):
    _fail(f"config field {key!r} (in {source}) must be a dict with fields {sorted(defaults_of)}; got {value!r}.")
  for sub, sub_value in value.items():
    if sub not in defaults_of:
      _fail(f"config field '{key}.{sub}' (in {source}) is unknown. Known: "
            f"{', '.join(f'{key}.{s}' for s in sorted(defaults_of)) or 'none'}.")
    if isinstance(defaults_of[sub], ml_collections.ConfigDict):
      defaults_of[sub] = _merge_nested(f"{key}.{sub}", defaults_of[sub], sub_value, source)
    else:
      defaults_of[sub] = _typed(f"{key}.{sub}", defaults_of[sub], sub_value, source)
  return defaults_of


def _typed(key: str, default, value, source: str):
  """``value`` checked against the type of ``default`` (ints are accepted for floats,
  lists for tuples)."""
  if isinstance(default, tuple):
    if isinstance(value, str):
      value = tuple(v.strip() for v in value.split(",") if v.strip())
    if not isinstance(value, (tuple, list)):
      _fail(f"config field {key!r} (in {source}) must be a tuple; got {value!r}.")
    kind = type(default[0]) if default else None
    return tuple(_typed(key, kind(), v, source) if kind else v for v in value)
  if isinstance(default, bool):
    if not isinstance(value, bool):
      _fail(f"config field {key!r} (in {source}) must be true or false; got {value!r}.")
    return value
  if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if type(value) is not type(default):
    _fail(f"config field {key!r} (in {source}) must be a {type(default).__name__}; got {value!r} "
          f"({type(value).__name__}).")
  return value


def parse_value(key: str, current, text: str):
  """A ``--set`` value parsed strictly by the field's type: booleans only ``true``/``false``,
  integers and floats as Python literals, tuples comma-separated (each element by the
  element type; an empty string is the empty tuple), strings as given."""
  where = f"--set {key}={text}"
  if isinstance(current, bool):
    if text not in ("true", "false"):
      _fail(f"{where}: {key} is a boolean; write true or false.")
    return text == "true"
  if isinstance(current, int):
    try:
      return int(text)
    except ValueError:
      _fail(f"{where}: {key} is an integer; write e.g. {key}={current}.")
  if isinstance(current, float):
    try:
      return float(text)
    except ValueError:
      _fail(f"{where}: {key} is a number; write e.g. {key}={current}.")
  if isinstance(current, tuple):
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    kind = type(current[0]) if current else str
    return tuple(parse_value(key, kind(), p) if kind is not str else p for p in parts)
  return text


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """``key=value`` (``linear_probe.split=train``, ``sections.<name>.<field>=...`` for nested
  fields) applied to a copy."""
  config = ml_collections.ConfigDict(config.to_dict())
  for override in overrides:
    key, separator, text = override.partition("=")
    parent, _, leaf = key.rpartition(".")
    node = config
    for part in parent.split(".") if parent else ():  # nested: linear_probe.split, sections.<name>.<field>
      node = node[part] if isinstance(node, ml_collections.ConfigDict) and part in node else None
    if not separator or node is None or leaf not in node or isinstance(node[leaf], ml_collections.ConfigDict):
      _fail(f"--set {override!r}: expected key=value with key one of {', '.join(leaf_keys(config))}.")
    node[leaf] = parse_value(key, node[leaf], text)
  return config


def leaf_keys(config, prefix="") -> list[str]:
  """Every settable field of ``config``, nested ones dotted (``sections.greedy.steps``), sorted."""
  keys = []
  for key in sorted(config):
    if isinstance(config[key], ml_collections.ConfigDict):
      keys += leaf_keys(config[key], f"{prefix}{key}.")
    else:
      keys.append(prefix + key)
  return keys


# --- Commands whose fields are their flags (launch.evaluate, launch.probe) -------------------------


def _as_field(flag: flags.Flag, value):
  """A flag's value as a typed config field: lists as tuples of str, None as "" (or () for a list flag)."""
  if isinstance(flag.parser, flags.BaseListParser):
    return tuple(str(v) for v in value) if value is not None else ()
  return "" if value is None else value


def flag_settings(names: tuple[str, ...], spec: str | None, overrides: list[str], documented: str) -> dict:
  """The settings of flags ``names``: their defaults, under the fields of config ``spec``
  (``FILE.py[:ARG]``; none if None), under ``--set`` ``overrides``, under the flags given on
  the command line. Lists come back as lists, and "" / () as None where the flag's default is None."""
  flag_of = {name: flags.FLAGS[name] for name in names}
  config = ml_collections.ConfigDict({name: _as_field(flag, flag.default) for name, flag in flag_of.items()})
  if spec:
    loaded, source = load_file(spec)
    config = merge(loaded, config, source, documented)
  config = apply_overrides(config, overrides)
  settings = {}
  for name, flag in flag_of.items():
    value = flag.value if flag.present else config[name]
    if isinstance(flag.parser, flags.BaseListParser):
      value = [str(v) for v in value] if value is not None else None
    value = None if flag.default is None and value in ("", [], ()) else value
    if not flag.present and value is not None:
      value = _checked_by_flag(flag, value)
    settings[name] = value
  return settings


def _checked_by_flag(flag: flags.Flag, value):
  """A value from the file or ``--set`` held to the flag's own bounds and choices (what absl
  checks on the command line), as a ConfigError naming the field."""
  try:
    return flag.parser.parse(value)
  except (ValueError, TypeError) as error:
    _fail(f"config field {flag.name!r} = {value!r}: {' '.join(str(error).split())}; write a value --{flag.name} "
          "accepts.")
