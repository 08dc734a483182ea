// accelerate's launch configs for the job (what `accelerate config` would write): one GPU,
// data-parallel over the GPUs of one machine (DDP), and sharded (FSDP) for models whose weights
// do not fit one GPU. train.py shares each optimizer step's micro-batches out over the
// processes, so every config gives the same steps. Full precision: WebLoRA trains in float32;
// train.py --dtype bfloat16 is the switch for big models.

export const ACCELERATE_CONFIGS: Record<string, string> = {
  'accelerate/single_gpu.yaml': `# One GPU (or the CPU when there is none).
compute_environment: LOCAL_MACHINE
distributed_type: 'NO'
num_machines: 1
num_processes: 1
machine_rank: 0
mixed_precision: 'no'
gpu_ids: all
use_cpu: false
`,
  'accelerate/multi_gpu.yaml': `# Data parallel (DDP) over the GPUs of this machine: set num_processes to their number.
# Several machines: num_machines, machine_rank, main_process_ip and main_process_port.
compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 1
num_processes: 8
machine_rank: 0
mixed_precision: 'no'
gpu_ids: all
rdzv_backend: static
same_network: true
use_cpu: false
`,
  'accelerate/fsdp.yaml': `# Fully sharded data parallel (FSDP): the base model's weights are split over the GPUs.
# Set num_processes to the number of GPUs; with train.py --dtype bfloat16 for big models.
compute_environment: LOCAL_MACHINE
distributed_type: FSDP
fsdp_config:
  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
  fsdp_backward_prefetch: BACKWARD_PRE
  fsdp_cpu_ram_efficient_loading: true
  fsdp_forward_prefetch: false
  fsdp_offload_params: false
  fsdp_sharding_strategy: FULL_SHARD
  fsdp_state_dict_type: FULL_STATE_DICT
  fsdp_sync_module_states: true
  fsdp_use_orig_params: true
num_machines: 1
num_processes: 8
machine_rank: 0
mixed_precision: 'no'
rdzv_backend: static
same_network: true
use_cpu: false
`,
};

/**
 * Lower bounds the script needs: attn_implementation (transformers 4.36), use_rslora (peft
 * 0.7), PeftModel.save_pretrained(state_dict=...) under FSDP (peft 0.10, accelerate 0.28).
 */
export const REQUIREMENTS_TXT = `torch>=2.2
transformers>=4.43
peft>=0.12
accelerate>=0.33
safetensors>=0.4.3
# Optional: train.py does not use TRL; data/dataset.jsonl is in its conversational format.
# trl>=0.12
`;
