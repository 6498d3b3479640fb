"""Runtime helpers for script jobs: the same small API in bash, python and node.

Prepended to a job's source, so a script can call::

    input(name)               a value the job declared under `inputs` (input() lists them all)
    output(value)             write the output named "output"
    output(name, value)       write a named output (declared under the job's `outputs`)
    get_variable(key)         a pipeline variable, as left by the jobs before this one
    set_variable(key, value)  change a declared pipeline variable for the jobs after this one
    set_condition(bool)       the job's condition, read by later jobs' `when`

Everything is plain files and environment variables that Argo itself moves around:

* inputs arrive as ``DROVER_INPUT_<name>`` (from the template's input parameters);
* outputs, variables and the condition are files under ``/tmp/drover/`` that the template
  exports as output parameters (``valueFrom.path`` with a ``default``);
* a variable's value arrives once per upstream job that may have set it
  (``DROVER_VAR_<key>__<i>``, i = 1..``DROVER_VAR_SOURCES``, in pipeline order; the marker
  ``__drover_unset__`` means "not set there"), and its declared initial value as
  ``DROVER_VAR_<key>``. At start the helpers write the latest set value to the variable's
  file, so a job passes on what it received unless it sets something new.

Values are text; python and node JSON-encode what is not a string.
"""

from __future__ import annotations

from typing import Final

from engine.pipelines.model import ScriptLanguage

__all__ = [
    "CONDITION_FILE",
    "INPUT_ENV_PREFIX",
    "OUTPUTS_DIR",
    "UNSET",
    "VARIABLES_DIR",
    "interpreter",
    "with_helpers",
]

RUNTIME_DIR: Final = "/tmp/drover"
OUTPUTS_DIR: Final = f"{RUNTIME_DIR}/outputs"
VARIABLES_DIR: Final = f"{RUNTIME_DIR}/variables"
CONDITION_FILE: Final = f"{RUNTIME_DIR}/condition"
INPUT_ENV_PREFIX: Final = "DROVER_INPUT_"
UNSET: Final = "__drover_unset__"

_BASH: Final = r"""# --- drover runtime helpers: input, output, get/set_variable, set_condition ---
input() {
  if [ $# -eq 0 ]; then env | sed -n 's/^DROVER_INPUT_//p'; return; fi
  local v="DROVER_INPUT_$1"
  if [ -z "${!v+x}" ]; then echo "input: the job declares no input '$1'" >&2; return 1; fi
  printf '%s' "${!v}"
}
output() {
  local name=output
  if [ $# -eq 2 ]; then name=$1; shift; fi
  mkdir -p /tmp/drover/outputs && printf '%s' "$1" > "/tmp/drover/outputs/$name"
}
_drover_declared() {
  case " $DROVER_VARIABLE_KEYS " in *" $1 "*) return 0 ;; esac
  echo "variable '$1' is not declared under the pipeline's variables" >&2; return 1
}
get_variable() {
  _drover_declared "$1" || return 1
  if [ -f "/tmp/drover/variables/$1" ]; then cat "/tmp/drover/variables/$1"; return; fi
  local v="DROVER_VAR_$1"; printf '%s' "${!v}"
}
set_variable() {
  _drover_declared "$1" || return 1
  mkdir -p /tmp/drover/variables && printf '%s' "$2" > "/tmp/drover/variables/$1"
}
set_condition() {
  local c=false
  case "$1" in true|True|TRUE|1|yes) c=true ;; esac
  mkdir -p /tmp/drover && printf '%s' "$c" > /tmp/drover/condition
}
for _k in $DROVER_VARIABLE_KEYS; do
  for ((_i = 1; _i <= ${DROVER_VAR_SOURCES:-0}; _i++)); do
    _v="DROVER_VAR_${_k}__${_i}"
    if [ -n "${!_v+x}" ] && [ "${!_v}" != __drover_unset__ ]; then
      mkdir -p /tmp/drover/variables && printf '%s' "${!_v}" > "/tmp/drover/variables/$_k"
    fi
  done
done
unset _k _i _v
# --- end of drover runtime helpers ---
"""

_PYTHON: Final = r"""# --- drover runtime helpers: input, output, get/set_variable, set_condition --
import json as _drover_json
import os as _drover_os


def _drover_write(path, value):
    _drover_os.makedirs(_drover_os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(value if isinstance(value, str) else _drover_json.dumps(value))


def _drover_declared(key):
    if key not in _drover_os.environ.get("DROVER_VARIABLE_KEYS", "").split():
        raise KeyError(f"variable {key!r} is not declared under the pipeline's variables")


def input(name=None):
    values = {k[13:]: v for k, v in _drover_os.environ.items() if k.startswith("DROVER_INPUT_")}
    if name is None:
        return values
    if name not in values:
        raise KeyError(f"the job declares no input {name!r}")
    return values[name]


def output(*args):
    if len(args) not in (1, 2):
        raise TypeError("use output(value) or output(name, value)")
    name, value = args if len(args) == 2 else ("output", args[0])
    _drover_write(f"/tmp/drover/outputs/{name}", value)


def get_variable(key):
    _drover_declared(key)
    path = f"/tmp/drover/variables/{key}"
    if _drover_os.path.exists(path):
        with open(path) as handle:
            return handle.read()
    return _drover_os.environ.get(f"DROVER_VAR_{key}", "")


def set_variable(key, value):
    _drover_declared(key)
    _drover_write(f"/tmp/drover/variables/{key}", value)


def set_condition(value):
    _drover_write("/tmp/drover/condition", "true" if value else "false")


for _drover_key in _drover_os.environ.get("DROVER_VARIABLE_KEYS", "").split():
    for _drover_i in range(1, int(_drover_os.environ.get("DROVER_VAR_SOURCES", "0")) + 1):
        _drover_value = _drover_os.environ.get(f"DROVER_VAR_{_drover_key}__{_drover_i}")
        if _drover_value is not None and _drover_value != "__drover_unset__":
            _drover_write(f"/tmp/drover/variables/{_drover_key}", _drover_value)
# --- end of drover runtime helpers ---
"""

_NODE: Final = r"""// --- drover runtime helpers: input, output, get/set_variable, set_condition ---
const _drover = (() => {
  const fs = require("fs");
  const keys = (process.env.DROVER_VARIABLE_KEYS || "").split(/\s+/).filter(Boolean);
  const write = (file, value) => {
    fs.mkdirSync(require("path").dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
  };
  const declared = (key) => {
    if (!keys.includes(key)) {
      throw new Error(`variable '${key}' is not declared under the pipeline's variables`);
    }
  };
  const sources = Number(process.env.DROVER_VAR_SOURCES || "0");
  for (const key of keys) {
    for (let i = 1; i <= sources; i++) {
      const value = process.env[`DROVER_VAR_${key}__${i}`];
      if (value !== undefined && value !== "__drover_unset__") {
        write(`/tmp/drover/variables/${key}`, value);
      }
    }
  }
  return { fs, write, declared };
})();
function input(name) {
  const values = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("DROVER_INPUT_")) values[k.slice(13)] = v;
  }
  if (name === undefined) return values;
  if (!(name in values)) throw new Error(`the job declares no input '${name}'`);
  return values[name];
}
function output(...args) {
  if (args.length < 1 || args.length > 2) {
    throw new Error("use output(value) or output(name, value)");
  }
  const [name, value] = args.length === 2 ? args : ["output", args[0]];
  _drover.write(`/tmp/drover/outputs/${name}`, value);
}
function get_variable(key) {
  _drover.declared(key);
  const file = `/tmp/drover/variables/${key}`;
  if (_drover.fs.existsSync(file)) return _drover.fs.readFileSync(file, "utf8");
  return process.env[`DROVER_VAR_${key}`] || "";
}
function set_variable(key, value) {
  _drover.declared(key);
  _drover.write(`/tmp/drover/variables/${key}`, value);
}
function set_condition(value) {
  _drover.write("/tmp/drover/condition", value ? "true" : "false");
}
const getVariable = get_variable, setVariable = set_variable, setCondition = set_condition;
// --- end of drover runtime helpers ---
"""

_PRELUDES: Final = {
    ScriptLanguage.BASH: _BASH,
    ScriptLanguage.PYTHON: _PYTHON,
    ScriptLanguage.NODE: _NODE,
}
_INTERPRETERS: Final = {
    ScriptLanguage.BASH: "bash",
    ScriptLanguage.PYTHON: "python",
    ScriptLanguage.NODE: "node",
}


def with_helpers(language: ScriptLanguage, source: str) -> str:
    """The script template's source: the helpers, then the user's code."""
    return _PRELUDES[language] + source


def interpreter(language: ScriptLanguage) -> str:
    """The script template's ``command`` (Argo appends the source file's path)."""
    return _INTERPRETERS[language]
