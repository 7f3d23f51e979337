// SPDX-License-Identifier: MIT
// Copyright 2020

#include <a.h>
# Heading
threads and strings, camelCaseWords snake_case_words
