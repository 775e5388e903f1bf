#!/bin/bash
# The CPU-sized rPU-VAE runs of the README's rPU section (2 cores).
#
#   [SEED=k] scripts/rpu_cpu_runs.sh small|full|bvae [OUT]   (default OUT=runs/rpu_cpu)
#
# `small` and `full` were run side by side, one core each, then SEED=1 and
# SEED=2 of `small` side by side
# (CPUS=1, the default here: TensorFlow's threads pinned by --cpus_per_task,
# so the numbers do not depend on what else runs). Every step resumes when the
# script is rerun.
#
# The reduction, its thresholds, the explore step, the stop rules and the base
# model (β-TCVAE with Chen et al.'s objective, conv_bn) are the authors'
# defaults. What is scaled down for 2 CPU cores: populations of 4 members
# x K=5 VAEs (authors: 24-56), PBT intervals of 3000 images (authors: one pass
# over the dataset), at most 3 generations per metaEpoch, 2 leaf-runs, and the
# initial hyperparameter draws (lr from {5e-4, 1e-3, 2e-3}, batch from
# {32, 64}, β from {1, 2, 4, 6, 8, 10}; the authors draw lr from
# logspace(-5, 0, 30) and batch sizes up to 1024, which a population of 4
# cannot afford to waste members on). Explore bounds are the authors'.
#
# small: rPU-VAE on procedural_dsprites_small (2,304 rows), final PBT-S-VAE
#        4 members x 8 generations (24,000 images per final-model lineage);
#        β-TCVAE baselines (β=6, lr 1e-3, batch 64, conv_bn) on the same
#        24,000 images, 3 seeds; the report with the baselines.
# full:  rPU-VAE on procedural_dsprites (737,280 rows; surrogate labels and
#        the final eval on a fixed 10,000-row subset), final 4 x 6 generations
#        (18,000 images per lineage); baselines on 18,000 images, 3 seeds.
# bvae:  the small run with a β-VAE base (β from {4, 8, 16}).
set -euo pipefail
WHICH=${1:?usage: scripts/rpu_cpu_runs.sh small|full|bvae [OUT]}
OUT=${2:-runs/rpu_cpu}
PY=${PYTHON:-python}
CPUS=${CPUS:-1}
SEED=${SEED:-0}   # SEED=1 / 2: further rPU seeds (OUT/<run>_seed<k>), same baselines
SPACE_LR_BS='"learning_rate": {"initial_values": [0.0005, 0.001, 0.002], "low": 1e-06, "high": 1.0}, "batch_size": {"initial_values": [32, 64], "low": 8, "high": 1024, "kind": "int"}'
BETA_TC='"beta": {"initial_values": [1, 2, 4, 6, 8, 10], "low": 1, "high": 1e9, "kind": "int"}'
BETA_VAE='"beta": {"initial_values": [4, 8, 16], "low": 1, "high": 1e9, "kind": "float"}'
COMMON=(--max_leaf_runs=2 --population_size=4 --max_generations=3
  --convergence_patience=2 --interval_images=3000 --ensemble_size=5
  --udr_num_data_points=1000 --final_population_size=4
  --cpus_per_task=$CPUS --seed=$SEED)

baselines() {  # dataset dir images
  local steps=$(( ($3 + 63) / 64 ))
  for s in 0 1 2; do
    $PY -m tfdis.bin.train --model=beta_tc_vae --architecture=conv_bn --beta=6 \
      --learning_rate=0.001 --batch_size=64 --dataset=$1 --steps=$steps \
      --seed=$s --image_summary_every=100000 --model_dir=$2/btcvae_seed$s
  done
}

run() {  # name dataset baseline_images rpu_args...: rPU, baselines, report
  local name=$1 dataset=$2 images=$3
  shift 3
  local dir=$OUT/$name
  [ "$SEED" = 0 ] || dir=${dir}_seed$SEED
  local rpu=($PY -m tfdis.bin.rpu --output_dir=$dir/rpu
    --dataset=$dataset "${COMMON[@]}" "$@")
  "${rpu[@]}" --noreport
  [ "$images" = 0 ] && return
  # Trained once, by the seed-0 run; the other seeds' reports reuse them.
  [ "$SEED" = 0 ] && baselines $dataset $OUT/$name/baselines $images
  local b=$OUT/$name/baselines
  "${rpu[@]}" --report --baseline="beta_tcvae_$((images / 1000))k=$b/btcvae_seed0,$b/btcvae_seed1,$b/btcvae_seed2"
}

SMALL=(--report_num_train=2304 --report_num_test=1000)
case $WHICH in
  small) run small procedural_dsprites_small 24000 --final_max_generations=8 \
      "${SMALL[@]}" --pbt_options="{\"hyperparameter_space\": {$SPACE_LR_BS, $BETA_TC}, \"mig_num_train\": 2304}" ;;
  full) run full procedural_dsprites 18000 --final_max_generations=6 \
      --pbt_options="{\"hyperparameter_space\": {$SPACE_LR_BS, $BETA_TC}, \"mig_num_train\": 10000, \"surrogate_num_rows\": 10000}" ;;
  bvae) run bvae procedural_dsprites_small 0 --model=beta_vae \
      --final_max_generations=4 "${SMALL[@]}" \
      --pbt_options="{\"hyperparameter_space\": {$SPACE_LR_BS, $BETA_VAE}, \"mig_num_train\": 2304}" ;;
  *) echo "unknown run $WHICH: small | full | bvae" >&2; exit 2 ;;
esac
