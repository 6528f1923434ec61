// The declaration of every configuration key. Defaults are the benchmark task
// `fmnist-convnet4` (SPEC section 5) and the fast default recipe.
#include "core/config.h"

namespace pdiff {

namespace {
using T = KeyType;
const double kInf = 1e300;
}  // namespace

const std::vector<KeyDef>& config_keys() {
  static const std::vector<KeyDef> keys = {
      // Run-wide.
      {"run_dir", T::String, "runs/fmnist-convnet4", "directory for every output of the run"},
      {"seed", T::Int, "0", "seed of base training and zoo collection", 0, 2147483647},
      {"device", T::String, "auto",
       "auto (the first CUDA device when this build and machine have one, else the CPU), cpu, cuda or cuda:N"},
      {"precision", T::String, "fp32",
       "arithmetic of training: fp32, tf32 (CUDA matrix products in TensorFloat-32) or bf16 (autocast to "
       "bfloat16); evaluation runs in fp32 either way", -kInf, kInf, {"fp32", "tf32", "bf16"}},
      {"threads", T::Int, "0",
       "CPU threads (0 = all cores, divided among the job's processes on one machine; the variable "
       "PDIFF_THREADS overrides it)", 0, 1024},
      {"dist.backend", T::String, "auto",
       "process group of a job of several processes (torchrun, srun: docs/distributed.md): auto or gloo",
       -kInf, kInf, {"auto", "gloo"}},
      {"dist.timeout", T::Int, "300",
       "seconds a rank waits for the others in a collective before it stops with an error naming the step", 1,
       86400},
      {"recipe", T::String, "default",
       "default (fast, sized for a 2-core CPU) or paper (the official generator: presets the conv "
       "autoencoder's and the denoiser's sizes, steps and learning rates, the whole latent without position "
       "channels, and generate.sampler=ddpm, where not set explicitly)", -kInf, kInf, {"default", "paper"}},
      // Data.
      {"data.name", T::String, "fashion-mnist",
       "dataset (tensors: your own, from data.file)", -kInf, kInf,
       {"fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "tensors"}},
      {"data.file", T::String, "",
       "data.name=tensors: a dict saved with Python's torch.save holding train_x, train_y, test_x, "
       "test_y (inputs float or uint8 [N, F], [N, S, S] or [N, C, S, S]; labels int64 [N])"},
      {"data.normalize", T::String, "auto",
       "input normalisation: auto (built-in datasets: their fixed statistics; tensors: as stored), "
       "none (tensors only: as stored, uint8 scaled to [0, 1]) or standard (tensors only: per-channel "
       "mean and std of the training split)", -kInf, kInf, {"auto", "none", "standard"}},
      {"data.num_classes", T::Int, "0",
       "data.name=tensors: number of classes (0 = the largest label + 1)", 0, 256},
      {"data.root", T::String, "",
       "dataset folder (empty: /usr/share/datasets/fashion-mnist for fashion-mnist)"},
      {"data.augment", T::String, "auto",
       "training augmentation: auto (per dataset: flip for fashion-mnist, none for mnist and tensors, "
       "flip+crop for cifar10/cifar100/stl10), none, flip, crop or flip+crop; true = auto, false = none",
       -kInf, kInf, {"auto", "none", "flip", "crop", "flip+crop", "true", "false"}},
      {"data.train_limit", T::Int, "0", "use only the first N training images (0 = all)", 0, kInf},
      {"data.test_limit", T::Int, "0", "use only the first N test images (0 = all)", 0, kInf},
      // Classifier.
      {"model.arch", T::String, "convnet4", "classifier architecture", -kInf, kInf,
       {"mlp", "convnet4", "resnet18", "resnet50", "vit_tiny", "convnext_tiny", "torchscript"}},
      {"model.file", T::String, "",
       "model.arch=torchscript: a module saved with torch.jit.script(model).save(PATH) or torch.jit.trace; "
       "its forward takes [batch, C, S, S] images (or [batch, F] vectors) and returns logits [batch, classes]"},
      {"model.mlp_hidden", T::IntList, "128", "hidden widths of the MLP", 1, 65536},
      {"model.vit_patch", T::Int, "4", "ViT patch size (the image size must be a multiple)", 1, 1024},
      // Base model training.
      {"base.file", T::String, "",
       "start from trained weights instead of base training: a state dict saved by Python's "
       "torch.save(model.state_dict()), or a checkpoint with a 'state_dict' or 'model' entry (Lightning, "
       "timm); key prefixes such as 'model.' are stripped; every tensor is checked"},
      {"base.epochs", T::Int, "3", "epochs of base training", 1, 100000},
      {"base.optimizer", T::String, "sgd", "sgd (momentum) or adamw", -kInf, kInf, {"sgd", "adamw"}},
      {"base.lr", T::Float, "0.05", "learning rate (cosine to 0)", 0, 10},
      {"base.momentum", T::Float, "0.9", "SGD momentum", 0, 1},
      {"base.weight_decay", T::Float, "5e-4", "weight decay", 0, 1},
      {"base.batch", T::Int, "128", "batch size", 1, 65536},
      // Zoo collection.
      {"zoo.select", T::String, "auto",
       "trained subset: auto (last_norm:2, or the last layer of a model without two norm layers), "
       "last_norm:N, all (every parameter), whole (every parameter and BatchNorm running statistic: "
       "whole networks, e.g. imported checkpoints of separate trainings), moving (with zoo.import: the "
       "tensors that differ from the base in any checkpoint), or comma-separated name patterns with * "
       "wildcards"},
      {"zoo.k", T::Int, "200", "number of checkpoints", 1, 1000000},
      {"zoo.import", T::String, "",
       "the zoo from checkpoints saved in Python instead of collected (pdiff import): a folder of "
       ".pt/.pth/.ckpt files or a glob; each a full state dict whose tensors outside zoo.select equal "
       "the base's (base.file, else the first checkpoint); zoo.k, zoo.mode and the zoo's training keys "
       "are then unused"},
      {"zoo.import_stats", T::String, "own",
       "zoo.import with a subset selection, checkpoints whose BatchNorm running statistics drift from "
       "the base's (trained in training mode): own carries each checkpoint's statistics with it (they "
       "join the zoo's rows and are generated too), base uses the base's (each checkpoint measured "
       "with them)", -kInf, kInf, {"own", "base"}},
      {"zoo.align", T::String, "none",
       "separate trainings (zoo.import, zoo.mode=scratch): weights permutes every checkpoint's hidden units "
       "(MLP neurons, ConvNet-4 and ResNet channels with their BatchNorm, one permutation per residual "
       "stream) to match the first checkpoint by weight matching, activations by the correlation of "
       "their activations on zoo.align_batches training batches (the same architectures), before the "
       "generator, the baselines and the distances see the zoo; none uses them as they are",
       -kInf, kInf, {"none", "weights", "activations"}},
      {"zoo.align_rounds", T::Int, "0",
       "zoo.align=weights or activations: rounds, after every checkpoint is aligned to the first, of "
       "aligning each checkpoint to the average of the others (Git Re-Basin's MergeMany), which "
       "makes the aligned zoo average better; stops early when a round permutes nothing", 0, 1000},
      {"zoo.align_batches", T::Int, "8",
       "zoo.align=activations: training batches of 128 images, the same for every checkpoint, on which "
       "the networks' activations are compared", 1, 10000},
      {"zoo.mode", T::String, "iteration",
       "iteration (one checkpoint per step), epoch (one per epoch), seeds (one independent run "
       "per checkpoint, from the base plus noise) or scratch (one run per checkpoint from its own "
       "random initialisation, the whole network trained: zoo.select=whole, or all without "
       "BatchNorm; no base is trained)", -kInf, kInf, {"iteration", "epoch", "seeds", "scratch"}},
      {"zoo.optimizer", T::String, "adamw", "optimizer of the subset", -kInf, kInf, {"sgd", "adamw"}},
      {"zoo.lr", T::Float, "0.01", "constant learning rate", 0, 10},
      {"zoo.weight_decay", T::Float, "5e-4", "weight decay", 0, 1},
      {"zoo.batch", T::Int, "128", "batch size", 1, 65536},
      {"zoo.run_iters", T::Int, "50", "iterations per run in seeds and scratch modes", 1, 10000000},
      {"zoo.init_noise", T::Float, "0.2",
       "seeds mode: each run starts from the base values plus Gaussian noise of this size relative "
       "to each selected tensor's RMS, drawn from the run's own seed", 0, 100},
      // Parameter autoencoder.
      {"ae.kind", T::String, "auto",
       "conv (p-diff's 1-D conv autoencoder, whose Linear to the latent holds ~64 * D weights), tokens (a "
       "shared per-token MLP, cost linear in D: gen/token_autoencoder.h) or auto (conv up to D = 65536, tokens "
       "above)", -kInf, kInf, {"auto", "conv", "tokens"}},
      {"ae.token_size", T::Int, "256", "ae.kind=tokens: parameter entries per token", 1, 65536},
      {"ae.token_hidden", T::Int, "256", "ae.kind=tokens: width of the per-token MLP", 1, 65536},
      {"ae.token_latent", T::Int, "8", "ae.kind=tokens: latent numbers per token", 1, 65536},
      {"ae.channels", T::IntList, "16,32,64,64,16", "ae.kind=conv: encoder block widths (decoder mirrors)", 1, 8192},
      {"ae.kernel", T::Int, "7", "ae.kind=conv: conv kernel size (odd)", 1, 63},
      {"ae.latent", T::Int, "128", "ae.kind=conv: latent size", 1, 65536},
      {"ae.input_noise", T::Float, "0.001", "sigma of noise added to the input in training", 0, 10},
      {"ae.latent_noise", T::Float, "0.1", "sigma of noise added to the latent in training", 0, 10},
      {"ae.steps", T::Int, "500", "training steps", 1, 10000000},
      {"ae.lr", T::Float, "1e-3", "AdamW learning rate (cosine)", 0, 10},
      {"ae.weight_decay", T::Float, "0", "AdamW weight decay", 0, 1},
      {"ae.batch", T::Int, "50", "batch size", 1, 65536},
      // Latent diffusion.
      {"ldm.channels", T::IntList, "16,32,64", "denoiser encoder widths (decoder mirrors)", 1, 8192},
      {"ldm.kernel", T::Int, "7", "conv kernel size (odd)", 1, 63},
      {"ldm.subspace", T::Int, "auto",
       "diffuse only along the zoo's first N principal directions of the latent; the others hold almost none of "
       "the zoo's variance, and there the samples drift far out (docs/novelty.md). auto: 16, or fewer when the zoo "
       "has fewer checkpoints or the latent is smaller, rounded down to a multiple of 2^(blocks of ldm.channels - 1); "
       "0: the whole latent. More directions spread the samples between the originals: less alike them, less accurate "
       "(whole networks from separate trainings that lie in one basin once aligned: configs/fmnist-mlp-scratch.yaml)",
       0, 65536, {"auto"}},
      {"ldm.position", T::Int, "16", "learned position channels given to the denoiser beside the latent (0: none; "
       "a convolution alone cannot tell the latent's entries apart)", 0, 1024},
      {"ldm.timesteps", T::Int, "1000", "diffusion steps T", 2, 100000},
      {"ldm.beta_start", T::Float, "1e-4", "first beta of the linear schedule", 0, 1},
      {"ldm.beta_end", T::Float, "2e-2", "last beta of the linear schedule", 0, 1},
      {"ldm.steps", T::Int, "1000", "training steps", 1, 10000000},
      {"ldm.lr", T::Float, "1e-3", "AdamW learning rate (cosine)", 0, 10},
      {"ldm.batch", T::Int, "100", "batch size", 1, 65536},
      {"ldm.ema", T::Float, "0.999", "EMA decay of the denoiser weights used for sampling", 0, 1},
      // Generation.
      {"generate.n", T::Int, "100", "number of models to generate", 1, 10000000},
      {"generate.sampler", T::String, "ddim", "ddpm (T ancestral steps) or ddim", -kInf, kInf, {"ddpm", "ddim"}},
      {"generate.steps", T::Int, "50", "DDIM steps", 1, 100000},
      {"generate.eta", T::Float, "0", "DDIM eta (0 = deterministic)", 0, 1},
      {"generate.clip", T::Bool, "false", "clamp the denoiser's estimate of the clean latent, at every step, to the "
       "range each latent entry takes over the zoo (keeps the samples from drifting far off the zoo)", -kInf, kInf},
      {"generate.seed", T::Int, "0", "seed of the sampler noise", 0, 2147483647},
      {"generate.batch", T::Int, "100", "models sampled together", 1, 1000000},
      {"generate.recalibrate_bn", T::Int, "0",
       "recompute the BatchNorm running statistics of every generated model, and of every baseline, on this many "
       "training batches of 128 before evaluation (the repair for averaged or generated networks); needs the "
       "statistics in the zoo's rows (zoo.select=whole); 0: off", 0, 100000},
      {"generate.repair", T::Int, "0",
       "MLPs (model.arch=mlp, whole: zoo.select=all): rescale every hidden unit of every generated model, and of "
       "every baseline, so that its pre-activation mean and standard deviation on this many training batches of "
       "128 match the originals' average for that unit (REPAIR, Jordan et al. 2023: averaged or generated "
       "networks lose their units' spread); for an aligned zoo; 0: off", 0, 100000},
      // Evaluation.
      {"eval.baseline_n", T::Int, "100", "models per baseline group", 1, 100000},
      {"eval.tsne", T::Bool, "true", "draw the t-SNE projection", -kInf, kInf},
      {"eval.barrier_pairs", T::Int, "4",
       "pairs of originals (k, k + K/2) whose straight line the report measures at 1/4, 1/2 and 3/4 (linear mode "
       "connectivity: the accuracy barrier between them); 0: none", 0, 1000},
      {"eval.nn_k", T::Int, "5",
       "k of the k-nearest-neighbour balls of precision, recall, density, coverage and the mode threshold "
       "(5 as in Naeem et al. 2020)", 1, 1000},
  };
  return keys;
}

const KeyDef* find_key(const std::string& key) {
  for (const auto& k : config_keys())
    if (k.key == key) return &k;
  return nullptr;
}

}  // namespace pdiff
