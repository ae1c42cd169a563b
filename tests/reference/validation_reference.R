# Reference numbers for tests/test_validation.py (the composed validate() workflow).
# Run from the repository root:  Rscript tests/reference/validation_reference.R > tests/reference/validation_reference.out
# Data: the bundled soft-skills-7 sample (psychometrics/instruments/soft-skills-7.sample.csv),
# -9 and blanks missing, the instrument's reverse-keyed items reversed as 6 - x.
suppressPackageStartupMessages(library(psych))
suppressPackageStartupMessages(library(lavaan))
d <- read.csv("psychometrics/instruments/soft-skills-7.sample.csv", comment.char = "#", na.strings = c("", "-9"))
items <- d[, -1]
reverse <- c("com_03", "com_05", "com_07", "prs_03", "prs_06", "ada_02", "ada_05", "tea_03", "tea_06",
             "emo_03", "emo_05", "lea_03", "lea_06", "cre_03", "cre_05")
items[reverse] <- 6 - items[reverse]
prefix <- c(communication = "com", problem_solving = "prs", adaptability = "ada", teamwork = "tea",
            emotional_intelligence = "emo", leadership = "lea", creativity = "cre")
cat("===== psych::alpha raw_alpha per scale (pairwise)\n")
for (s in names(prefix)) {
  x <- items[, grep(paste0("^", prefix[[s]], "_"), names(items))]
  a <- psych::alpha(x, warnings = FALSE)
  cat(s, sprintf("%.10f", a$total$raw_alpha), "\n")
}
cat("===== lavaan WLSMV, ordered, missing = 'pairwise': seven correlated factors\n")
model <- paste(sapply(names(prefix), function(s)
  paste0(s, " =~ ", paste(grep(paste0("^", prefix[[s]], "_"), names(items), value = TRUE), collapse = " + "))),
  collapse = "\n")
fit <- cfa(model, data = items, ordered = TRUE, estimator = "WLSMV", missing = "pairwise")
print(unclass(fitMeasures(fit, c("chisq", "df", "chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr"))), digits = 10)
cat("===== p.adjust(method = 'holm')\n")
p <- c(0.01, 0.04, NA, 0.03, 0.005, 0.2, 0.0001)
print(p.adjust(p, method = "holm"), digits = 10)
