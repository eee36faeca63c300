// The shared tier's prefilter: what PostgreSQL may narrow by (jsonb containment through the GIN
// index) and what it must leave to the exact match, so that no matching row is ever dropped.
#include <gtest/gtest.h>

#include "expression.hpp"
#include "jsonb_filter.hpp"

using metafs::query::jsonb_prefilter;
using metafs::query::parse_query;

TEST(JsonbFilter, AFieldEqualToTextIsContainmentOfItOrAOneItemList) {
  EXPECT_EQ(jsonb_prefilter(parse_query({"Modality=MR"})),
            "((fields @> '{\"Modality\":\"MR\"}'::jsonb OR fields @> "
            "'{\"Modality\":[\"MR\"]}'::jsonb))");
  EXPECT_EQ(jsonb_prefilter(parse_query({"0/TELESCOP=HST"})),
            "((fields @> '{\"0\":{\"TELESCOP\":\"HST\"}}'::jsonb OR fields @> "
            "'{\"0\":{\"TELESCOP\":[\"HST\"]}}'::jsonb))");
  // A quote is doubled for SQL, never ends the literal.
  EXPECT_NE(jsonb_prefilter(parse_query({"Name=O'Brien"})).find("O''Brien"), std::string::npos);
}

TEST(JsonbFilter, AlternativesAreOrAndAnAlternativeWithoutConditionKeepsEveryRow) {
  std::string a = jsonb_prefilter(parse_query({"A=x"}));
  std::string b = jsonb_prefilter(parse_query({"B=y"}));
  EXPECT_EQ(jsonb_prefilter(parse_query({"A=x", "-o", "B=y"})), a + " OR " + b);
  EXPECT_EQ(jsonb_prefilter(parse_query({"A=x", "-o", "Rows>5"})), "true");
}

TEST(JsonbFilter, WhatContainmentCannotDecideAddsNoCondition) {
  for (const char* words : {"Rows=512",  // numbers compare as numbers ("0512")
                            "Modality!=MR", "StudyDate>=20240101", "Name~^A", "PatientID?",
                            "*/TELESCOP=HST",  // globs
                            "ImageType=A\\B",  // a DICOM list's separator
                            "Dims=1, 2",       // another list's
                            "format=dicom",    // a column, not a field
                            "name%2Fx=a"}) {   // an escaped name
    EXPECT_EQ(jsonb_prefilter(parse_query({words})), "true") << words;
  }
  // Beside one that can: only that one.
  EXPECT_EQ(jsonb_prefilter(parse_query({"Modality=MR", "Rows=512"})),
            jsonb_prefilter(parse_query({"Modality=MR"})));
}
