// zoo.align: the checkpoints of a zoo of separate trainings permuted to match the first one,
// before anything else sees the zoo (the autoencoder, the baselines, the distances).
#pragma once
#include <torch/torch.h>

#include <string>

#include "models/classifier.h"
#include "zoo/layout.h"

namespace pdiff {

// Rows 1.. of `rows` (K, D) aligned to row 0 by weight matching (zoo/weight_matching.h),
// in place, with a progress line and a summary of the distances to row 0 before and after.
// `align`: "none" (nothing happens) or "weights". Throws pdiff::Error, before changing any row,
// for an architecture without known permutation groups or a layout that lacks a tensor they
// permute.
// Throws pdiff::Error, saying what to do, unless zoo.align = `align` can align zoos of this
// layout: "none", or "weights" for an architecture with known permutation groups whose every
// permuted tensor is in the layout. Called before any checkpoint is read.
void check_alignable(const ParamLayout& layout, const Classifier& model, const std::string& arch,
                     const std::string& align);

void align_zoo_rows(torch::Tensor& rows, const ParamLayout& layout, const Classifier& model, const std::string& arch,
                    const std::string& align);

}  // namespace pdiff
