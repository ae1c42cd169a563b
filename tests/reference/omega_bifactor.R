# Reference numbers for the bifactor tests in tests/factor/test_cfa.py and tests/factor/test_omega.py.
# Run from the repository root:  Rscript tests/reference/omega_bifactor.R > tests/reference/omega_bifactor.out
# lavaan 0.6.14, psych 2.2.9, R 4.2.2. Writes tests/reference/omega_bifactor.csv (case, key, value).
# Data: ../shared/data/HolzingerSwineford1939.csv and tests/reference/omega_bifactor_*.csv
# (made by omega_bifactor_make_data.py).
library(lavaan)
library(psych)
rows <- list()
keep <- function(case, key, value) rows[[length(rows) + 1]] <<- data.frame(case = case, key = key, value = value)
measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr")
scaled <- c("chisq.scaled", "pvalue.scaled", "chisq.scaling.factor", "cfi.scaled", "tli.scaled", "rmsea.scaled")

# Omega from the standardized solution, by formula. g = first factor, group factors the rest;
# a group factor's items are those it loads on. Two denominators:
#   implied:  1' P 1, P the standardized model-implied correlation matrix
#   observed: 1' R 1, R the sample correlation matrix (psych::omegaFromSem's Vt)
omega_by_formula <- function(case, fit) {
  std <- lavInspect(fit, "std")
  L <- std$lambda
  P <- L %*% std$psi %*% t(L) + std$theta
  R <- cov2cor(lavInspect(fit, "sampstat")$cov)
  g <- L[, 1]
  S <- L[, -1, drop = FALSE]
  common <- sum(g)^2 + sum(colSums(S)^2)
  keep(case, "ecv", sum(g^2) / sum(L^2))
  for (d in c("implied", "observed")) {
    M <- if (d == "implied") P else R
    keep(case, paste0(d, ":omega_h"), sum(g)^2 / sum(M))
    keep(case, paste0(d, ":omega_total"),
         if (d == "implied") common / sum(M) else (sum(M) - (sum(diag(M)) - sum(L^2))) / sum(M))
    for (k in colnames(S)) {
      i <- which(S[, k] != 0)
      V <- sum(M[i, i])
      keep(case, paste0(d, ":", k, ":total"), (sum(g[i])^2 + sum(S[i, k])^2) / V)
      keep(case, paste0(d, ":", k, ":general"), sum(g[i])^2 / V)
      keep(case, paste0(d, ":", k, ":group"), sum(S[i, k])^2 / V)
    }
  }
}

report <- function(case, fit, ordinal = FALSE, omega = TRUE) {
  cat("\n=====", case, " converged:", lavInspect(fit, "converged"), "\n")
  fm <- fitMeasures(fit, c(measures, if (ordinal) scaled))
  print(unclass(fm), digits = 10)
  for (m in names(fm)) keep(case, m, fm[[m]])
  std <- standardizedSolution(fit)
  std <- std[std$op == "=~" | (std$op == "~~" & std$lhs == std$rhs & std$lhs %in% lavNames(fit, "ov")), ]
  print(std[, c("lhs", "op", "rhs", "est.std", "se")], digits = 8)
  for (i in seq_len(nrow(std))) {
    key <- paste0(std$lhs[i], std$op[i], std$rhs[i])
    keep(case, paste0("std:", key), std$est.std[i])
    keep(case, paste0("se:", key), std$se[i])
  }
  if (omega) omega_by_formula(case, fit)
}

bifactor <- function(items, groups) {
  lines <- paste("g =~", paste(items, collapse = " + "))
  for (k in names(groups)) lines <- c(lines, paste(k, "=~", paste(groups[[k]], collapse = " + ")))
  paste(lines, collapse = "\n")
}

# --- Holzinger & Swineford, ML. Converges, but x1 gets a negative residual variance
# (lavaan warns): the 'visual' group factor collapses onto x1.
hs <- read.csv("../shared/data/HolzingerSwineford1939.csv")
x <- paste0("x", 1:9)
hs_model <- bifactor(x, list(visual = x[1:3], textual = x[4:6], speed = x[7:9]))
report("hs_bifactor", cfa(hs_model, data = hs, orthogonal = TRUE, std.lv = TRUE))
three <- "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9"
fit <- cfa(three, data = hs, orthogonal = TRUE)
report("hs_orthogonal", fit, omega = FALSE)
mi <- modindices(fit, sort. = TRUE)
mi <- mi[mi$op == "~~" & mi$lhs %in% c("visual", "textual", "speed"), c("lhs", "op", "rhs", "mi", "epc", "sepc.all")]
print(mi, digits = 8)
for (i in seq_len(nrow(mi))) {
  keep("hs_orthogonal", paste0("mi:", mi$lhs[i], "~~", mi$rhs[i]), mi$mi[i])
  keep("hs_orthogonal", paste0("epc:", mi$lhs[i], "~~", mi$rhs[i]), mi$epc[i])
}

# --- generated continuous bifactor data, ML (complete) and FIML (missing = "ml")
y <- paste0("y", 1:12)
y_model <- bifactor(y, list(s1 = y[1:4], s2 = y[5:8], s3 = y[9:12]))
d <- read.csv("tests/reference/omega_bifactor_continuous.csv")
report("cont_ml", cfa(y_model, data = d, orthogonal = TRUE, std.lv = TRUE))
dm <- read.csv("tests/reference/omega_bifactor_continuous_missing.csv")
report("cont_fiml", cfa(y_model, data = dm, orthogonal = TRUE, std.lv = TRUE, missing = "ml"), omega = FALSE)

# --- generated ordinal bifactor data, WLSMV and ULSMV; pairwise missing
q <- paste0("q", 1:12)
q_model <- bifactor(q, list(s1 = q[1:4], s2 = q[5:8], s3 = q[9:12]))
o <- read.csv("tests/reference/omega_bifactor_ordinal.csv")
om <- read.csv("tests/reference/omega_bifactor_ordinal_missing.csv")
sem_omega <- function(case, fit) {
  # psych's omegaFromSem: lavaan's lambda (standardized under the delta parametrization with
  # std.lv) and the sample (polychoric) correlation matrix as denominator
  res <- omegaFromSem(fit, plot = FALSE)
  print(res$omega.group, digits = 10)
  keep(case, "sem:omega_h", res$omega)
  keep(case, "sem:omega_total", res$omega.tot)
  for (i in 2:nrow(res$omega.group)) for (col in c("total", "general", "group"))
    keep(case, paste0("sem:s", i - 1, ":", col), res$omega.group[i, col])
}
fit <- cfa(q_model, data = o, ordered = TRUE, estimator = "WLSMV", orthogonal = TRUE, std.lv = TRUE)
report("ord_wlsmv", fit, ordinal = TRUE)
sem_omega("ord_wlsmv", fit)
report("ord_ulsmv", cfa(q_model, data = o, ordered = TRUE, estimator = "ULSMV", orthogonal = TRUE,
                        std.lv = TRUE), ordinal = TRUE)
fit <- cfa(q_model, data = om, ordered = TRUE, estimator = "WLSMV", orthogonal = TRUE, std.lv = TRUE,
           missing = "pairwise")
report("ord_wlsmv_pairwise", fit, ordinal = TRUE)
sem_omega("ord_wlsmv_pairwise", fit)

# a misspecified bifactor model (the s3 items load on g only): fit indices away from their bounds
misfit <- bifactor(q, list(s1 = q[1:4], s2 = q[5:8]))
report("ord_wlsmv_misfit", cfa(misfit, data = o, ordered = TRUE, estimator = "WLSMV", orthogonal = TRUE,
                               std.lv = TRUE), ordinal = TRUE)

out <- do.call(rbind, rows)
write.csv(out, "tests/reference/omega_bifactor.csv", row.names = FALSE)
