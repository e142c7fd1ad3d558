/**
 * @file dr3/dr3.h
 * @brief The whole stable libdr3 API: `#include <dr3/dr3.h>` and link with `-ldr3`
 *        (pkg-config `dr3`, CMake `dr3::dr3`).
 *
 * libdr3 brings DR3 (Kumar et al., "DR3: Value-Based Deep Reinforcement Learning Requires
 * Explicit Regularization", ICLR 2022) and the pieces of value-based deep RL around it to
 * C and C++ programs. Start with docs/guide.md.
 */
#ifndef DR3_DR3_H
#define DR3_DR3_H

#include <dr3/version.h>
#include <dr3/common.h>
#include <dr3/rng.h>
#include <dr3/runtime.h>
#include <dr3/loss.h>
#include <dr3/net.h>
#include <dr3/optim.h>
#include <dr3/replay.h>
#include <dr3/backup.h>
#include <dr3/regularizer.h>
#include <dr3/learner.h>
#include <dr3/bc.h>
#include <dr3/ac.h>

#endif /* DR3_DR3_H */
