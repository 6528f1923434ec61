// Trains the base classifier from scratch (SPEC 1.1 step 1) with the config's `base.*` recipe:
// SGD with momentum (or AdamW), cosine learning rate to 0, weight decay, augmentation.
// Saves `base.partial.pt` after every epoch and resumes from it.
#pragma once
#include "core/config.h"
#include "data/dataset.h"
#include "models/classifier.h"

namespace pdiff {

// Trains `model` in place; `partial_path` is the resume file (removed when done).
void train_base(const Classifier& model, const ClassifierSpec& spec, const Config& cfg,
                const DataSplits& data, const std::string& partial_path);

}  // namespace pdiff
