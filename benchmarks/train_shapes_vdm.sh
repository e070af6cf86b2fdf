#!/usr/bin/env bash
# Trains Dysen-VDM and its text-only baseline Latent-VDM on dynamic-shapes (issue 8), then scores both.
# Stage I (the autoencoder, shapes' pixels weighted by the configs' foreground_weight) is trained once and shared.
# Stage II trains both UNets on the clips' gold DSGs, side by side, one thread each. Stage III plans the first
# 1,200 training captions with the offline default's scene manager (two processes sharing the LLM cache) and
# fine-tunes Dysen-VDM on those clips with its planned DSGs. Results: docs/results.md.
# Usage: bash benchmarks/train_shapes_vdm.sh [AE_STEPS]   (default: what was run on 2 CPU cores)
# On a GPU add  --set backbone.options.device=cuda  to each `dysen train` and raise the steps.
set -euo pipefail
cd "$(dirname "$0")/.."
dysen=.venv/bin/dysen
ae_steps=${1:-4000}
stage1=(--config configs/shapes-dysen.yaml --set backbone.options.training.batch_size=4
        --set backbone.options.training.lr=0.001 --set backbone.options.training.warmup_steps=0)

$dysen data shapes --out data/shapes-8f --n 10000 --frames 8 --units 2 --size 48 --textured 0 --workers 2
$dysen train --stage autoencoder --data data/shapes-8f -o runs/shapes-ae "${stage1[@]}" \
  --set backbone.options.training.steps="$ae_steps"
for model in dysen latent-vdm; do
  OMP_NUM_THREADS=1 $dysen train --stage vdm --data data/shapes-8f -o "runs/shapes-$model" --config "configs/shapes-$model.yaml" \
    --set backbone.options.autoencoder.pretrained=runs/shapes-ae/final/autoencoder > "runs/shapes-$model.log" 2>&1 &
done
wait
.venv/bin/python benchmarks/shapes_vdm.py --data data/shapes-8f \
  --model dysen=runs/shapes-dysen/final --model latent-vdm=runs/shapes-latent-vdm/final

stage3_clips=1200
mkdir -p runs/stage3-captions
.venv/bin/python -c "import json; lines = open('data/shapes-8f/train/manifest.jsonl').readlines()[:$stage3_clips]
caps = [json.loads(line)['captions'][0] for line in lines]
for half in (0, 1): open(f'runs/stage3-captions/{half}.txt', 'w').write(''.join(c + '\\n' for c in caps[half::2]))"
for half in 0 1; do  # the answers land in the LLM cache, where Stage III's own planning finds them
  OMP_NUM_THREADS=1 $dysen plan --batch "runs/stage3-captions/$half.txt" --config configs/shapes-dysen-stage3.yaml \
    --set llm.options.n_threads=1 -o "runs/stage3-captions/plans-$half" > "runs/stage3-captions/$half.log" 2>&1 &
done
wait
$dysen train --stage dysen --data data/shapes-8f --limit "$stage3_clips" -o runs/shapes-dysen-stage3 \
  --config configs/shapes-dysen-stage3.yaml --set backbone.options.checkpoint=runs/shapes-dysen/final
.venv/bin/python benchmarks/shapes_vdm.py --data data/shapes-8f \
  --model stage2=runs/shapes-dysen/final --model stage3=runs/shapes-dysen-stage3/final \
  --out benchmarks/results/shapes_vdm-stage3.json
.venv/bin/python benchmarks/prompt_events.py --checkpoint runs/shapes-dysen-stage3/final \
  --out benchmarks/results/prompt_events-stage3.json
