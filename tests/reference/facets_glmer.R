# Reference values for tests/raters/test_facets.py (dichotomous many-facet Rasch model).
# Data: facets_binary.csv written by facets_make_data.py.
# Run from the repository root:  Rscript tests/reference/facets_glmer.R > tests/reference/facets_glmer.out
# R 4.x with lme4 (Debian r-cran-lme4). The model is a logistic mixed model with item and rater
# fixed effects (raters treatment-coded, first rater = 0) and a random person intercept,
# integrated by 25-point adaptive Gauss-Hermite quadrature.
suppressPackageStartupMessages(library(lme4))
options(digits = 12)
d <- read.csv("tests/reference/facets_binary.csv", stringsAsFactors = TRUE)
fit <- glmer(y ~ 0 + item + rater + (1 | person), data = d, family = binomial, nAGQ = 25,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                    tolPwrss = 1e-10, check.conv.grad = .makeCC("warning", 1e-5)))
cat(sprintf("loglik %.10f\n", as.numeric(logLik(fit))))
cat(sprintf("person_sd %.10f\n", attr(VarCorr(fit)$person, "stddev")))
beta <- fixef(fit)
for (name in names(beta)) cat(sprintf("%s %.10f\n", name, beta[[name]]))
