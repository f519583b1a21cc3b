#!/usr/bin/env bash
# One slot of the `device` tool's GPU for the trainings that outgrow the 2-core CPU (weights/README.md,
# docs/training.md). Nothing here is needed by the project or its tests; it only saves a session that is
# lent a GPU (15 minutes in all, 10 per command) the minutes it would take to work this out.
#
# The device's python3 holds torch, numpy, scipy, yaml and safetensors; `optinc train` needs only pydantic,
# typer and their small dependencies besides, carried as wheels. Here, once (.whl/ is ignored):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl pydantic==2.12.5 \
#     pydantic_core==2.41.5 annotated-types==0.8.0 typing-inspection==0.4.5 typer==0.24.2 click==8.5.1 \
#     annotated-doc==0.0.7 shellingham==1.5.4 typing_extensions==4.16.0
# Then through the device tool, with carry [".whl"] and timeout_s 600:
#   bash weights/in_progress/on_device.sh JOB [SECONDS]
# JOB is one of the cases below; SECONDS (default 450) goes to `optinc train --time-limit`, which leaves the
# command time to write the files. $OUT gets log.txt, weights.npz/.json (block form) and the checkpoint. To
# continue a run that the time limit stopped: copy those files into .resume/ here (add /.resume/ to
# .git/info/exclude), run the same JOB with carry [".whl", ".resume"]: the run resumes exactly.
# EPOCHS=N overrides a job's epoch budget (the one-cycle schedule spans it: choose what fits the slots).
# Here, DEVICE=cpu PYTHON=python EPOCHS=2 OUT=/tmp/x bash weights/in_progress/on_device.sh b8n8-margin 60
# checks the script without a GPU.
set -euo pipefail
job=${1:?usage: on_device.sh JOB [SECONDS]}
limit=${2:-450}
out=${OUT:?OUT: the folder whose files come back (the device tool sets it)}
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
here=weights/in_progress

if [ -d .whl ] && ! "$python" -c "import pydantic, typer" 2>/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

case $job in
  b8n8-margin)  # a cycle with margin 0.15 and a longer anneal (900-epoch cycles stalled on the CPU, docs/training.md)
    args=("$here/b8n8-margin015-long/b8n8-margin015.yml" --init "$here/b8n8-regions2/b8n8.npz" --continue-pretraining
          --epochs "${EPOCHS:-3000}" --lr 0.0003 --batch-size 16384 --approx-epochs 0 --eval-every 100) ;;
  b8n8-regions)  # low-rate epochs repeating every (x_2, x_3) region with >= 5 wrong (they stalled on the CPU)
    args=("$here/b8n8-regions.yml" --init "$here/b8n8-regions2/b8n8.npz" --continue-pretraining
          --epochs "${EPOCHS:-1500}" --lr 0.0001 --batch-size 16384 --approx-epochs 0 --eval-every 100) ;;
  b8n8-cycle)  # the next b8n8 step: revive the dead units, region epochs, then refit the output layer
    cycle_start=${CYCLE_START:-$here/b8n8-revived3/refit.npz}
    args=("$here/b8n8-regions.yml" --init /tmp/cycle-start.npz --continue-pretraining
          --epochs "${EPOCHS:-600}" --lr 0.0001 --batch-size 16384 --approx-epochs 0 --eval-every 25) ;;
  b8n8-scratch)  # b8n8 from scratch with the clipped loss and margin 0.15 from the first epoch
    args=("$here/b8n8-scratch.yml" --epochs "${EPOCHS:-3000}" --approx-epochs 0 --eval-every 100) ;;
  b8n16)  # continue the CPU run's plain layers (48.9%)
    args=("$here/b8n16-cpu/b8n16-cpu.yml" --init "$here/b8n16-cpu/b8n16.npz" --continue-pretraining
          --epochs "${EPOCHS:-100}" --lr 0.001 --batch-size 16384 --approx-epochs 0 --eval-every 10) ;;
  *) echo "on_device.sh: unknown JOB '$job' (b8n8-cycle, b8n8-margin, b8n8-regions, b8n8-scratch, b8n16)" >&2; exit 2 ;;
esac

run=$(mktemp -d)
if [ -f .resume/checkpoint.json ]; then
  cp .resume/checkpoint.json .resume/checkpoint.safetensors "$run"/
  for f in best.npz best.json; do [ -f ".resume/$f" ] && cp ".resume/$f" "$run"/; done
  args+=(--resume)
fi
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
if [ "$job" = b8n8-cycle ]; then  # deterministic, so a resumed cycle gets the same --init
  "$python" -m optinc_pdk.cli.main revive b8n8 --weights "$cycle_start" -o /tmp/cycle-start.npz | tee "$out/revive.txt"
fi
set +e
"$python" -m optinc_pdk.cli.main train "${args[@]}" --device "$device" --run-dir "$run" --time-limit "$limit" \
  -o "$run/weights.npz" 2>&1 | tee "$out/log.txt"
status=${PIPESTATUS[0]}
set -e
if [ "$job" = b8n8-cycle ] && [ -f "$run/weights.npz" ]; then  # exact output layer for the trained hidden layers
  "$python" -m optinc_pdk.cli.main refit-output b8n8 --weights "$run/weights.npz" -o "$run/refit.npz" | tee "$out/refit.txt"
fi
for f in weights.npz weights.json checkpoint.json checkpoint.safetensors best.npz best.json refit.npz refit.json; do
  [ -f "$run/$f" ] && cp "$run/$f" "$out/"
done
exit "$status"
