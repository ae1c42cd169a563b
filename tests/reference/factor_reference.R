# Reference numbers for tests/factor/*: R 4.x, psych 2.2.9, GPArotation.
# Data: tests/reference/factor_make_data.py (seeded). Run from the repository root:
#   Rscript tests/reference/factor_reference.R
# Writes tests/reference/factor_reference.csv with columns name,row,col,value.
suppressPackageStartupMessages({library(psych); library(GPArotation)})
dir <- "tests/reference"
ord  <- read.csv(file.path(dir, "factor_ordinal.csv"), row.names = 1)
ordm <- read.csv(file.path(dir, "factor_ordinal_missing.csv"), row.names = 1)
bin  <- read.csv(file.path(dir, "factor_binary.csv"), row.names = 1)
cont <- read.csv(file.path(dir, "factor_continuous.csv"), row.names = 1)

out <- list()
put <- function(name, x) {
  x <- as.matrix(x)
  if (is.null(dim(x))) x <- matrix(x, ncol = 1)
  rn <- if (is.null(rownames(x))) seq_len(nrow(x)) else rownames(x)
  cn <- if (is.null(colnames(x))) seq_len(ncol(x)) else colnames(x)
  g <- expand.grid(row = rn, col = cn, stringsAsFactors = FALSE)
  out[[length(out) + 1]] <<- data.frame(name = name, row = g$row, col = g$col, value = as.vector(x))
}

# --- latent correlations ---------------------------------------------------------------------
p <- polychoric(ord);  put("poly_rho", p$rho);  put("poly_tau", p$tau)
p <- polychoric(ordm); put("polym_rho", p$rho); put("polym_tau", p$tau)
t <- tetrachoric(bin, correct = 0); put("tet_rho", t$rho); put("tet_tau", t$tau)
ycut <- sapply(cont[, 3:5], function(v) findInterval(v, c(-1, 0, 1)) + 1)
put("polyserial", polyserial(cont[, 1:2], ycut))
# a matrix that is not positive definite, smoothed
bad <- matrix(c(1, .9, .2, .9, 1, .8, .2, .8, 1), 3, 3)
put("smooth_input", bad); put("smooth_output", suppressWarnings(cor.smooth(bad)))

# --- EFA --------------------------------------------------------------------------------------
fa_put <- function(tag, f) {
  put(paste0(tag, "_loadings"), unclass(f$loadings))
  if (!is.null(f$Phi)) put(paste0(tag, "_phi"), f$Phi)
  put(paste0(tag, "_communality"), f$communality)
  put(paste0(tag, "_uniquenesses"), f$uniquenesses)
  put(paste0(tag, "_vaccounted"), f$Vaccounted)
  stats <- c(chi2 = f$STATISTIC, df = f$dof, p = f$PVAL, tli = f$TLI, rmsea = f$RMSEA[1],
             rmsea_low = f$RMSEA[2], rmsea_high = f$RMSEA[3], bic = f$BIC, objective = f$objective,
             rms = f$rms, crms = f$crms, null_chi2 = f$null.chisq)
  put(paste0(tag, "_stats"), stats)
}
fa_put("fa_minres_oblimin", fa(cont, 3, fm = "minres", rotate = "oblimin"))
fa_put("fa_ml_varimax",     fa(cont, 3, fm = "ml", rotate = "varimax"))
fa_put("fa_pa_promax",      fa(cont, 3, fm = "pa", rotate = "promax"))
fa_put("fa_minres_geomin",  fa(cont, 3, fm = "minres", rotate = "geominQ"))
fa_put("fa_minres_bifactor", fa(cont, 4, fm = "minres", rotate = "bifactor"))
fa_put("fa_ml_quartimax",   fa(cont, 3, fm = "ml", rotate = "quartimax"))
fa_put("fa_poly_oblimin",   fa(ord, 3, fm = "minres", rotate = "oblimin", cor = "poly"))
fa_put("fa_missing_oblimin", fa(ordm, 3, fm = "minres", rotate = "oblimin"))
fa_put("fa_polymissing_ml", fa(ordm, 3, fm = "ml", rotate = "oblimin", cor = "poly"))
fa_put("fa_one",            fa(cont, 1, fm = "minres"))
fa_put("fa_minres_biquartimin", fa(cont, 4, fm = "minres", rotate = "biquartimin"))
fa_put("fa_ml_geominT",     fa(cont, 3, fm = "ml", rotate = "geominT"))

# --- retention ----------------------------------------------------------------------------------
k <- KMO(cont); put("kmo_overall", k$MSA); put("kmo_items", k$MSAi)
k <- KMO(polychoric(ord)$rho); put("kmo_poly_overall", k$MSA); put("kmo_poly_items", k$MSAi)
b <- cortest.bartlett(cor(cont), n = nrow(cont)); put("bartlett", c(chi2 = b$chisq, df = b$df, p = b$p.value))
put("map", vss(cont, n = 8, plot = FALSE)$map)
put("map_missing", vss(ordm, n = 6, plot = FALSE)$map)
set.seed(1)
pa <- fa.parallel(cont, fm = "minres", fa = "both", n.iter = 200, plot = FALSE)
put("parallel_fa_values", pa$fa.values); put("parallel_pc_values", pa$pc.values)
put("parallel_fa_sim", pa$fa.sim); put("parallel_pc_sim", pa$pc.sim)
put("parallel_n", c(nfact = pa$nfact, ncomp = pa$ncomp))

# --- omega --------------------------------------------------------------------------------------
om_put <- function(tag, o) {
  put(paste0(tag, "_stats"), c(omega_h = o$omega_h, omega_total = o$omega.tot, omega_lim = o$omega.lim,
                               alpha = o$alpha, ecv = o$ECV))
  put(paste0(tag, "_group"), as.matrix(o$omega.group))
  put(paste0(tag, "_sl"), o$schmid$sl)
}
om_put("omega_cont", omega(cont, nfactors = 3, plot = FALSE))
om_put("omega_poly", omega(ord, nfactors = 3, poly = TRUE, plot = FALSE))
om_put("omega_two", omega(cont[, 1:8], nfactors = 2, plot = FALSE))


# --- one-factor CFA for the unidimensionality check (lavaan, WLSMV = DWLS + scaled test) ------
suppressPackageStartupMessages(library(lavaan))
one <- cfa("f =~ q1 + q2 + q3 + q4 + q5 + q6 + q7 + q8 + q9", data = ord, ordered = names(ord),
           estimator = "WLSMV")
put("uni_cfa_all", fitMeasures(one, c("cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr")))
one <- cfa("f =~ q1 + q2 + q3 + q4", data = ord, ordered = names(ord)[1:4], estimator = "WLSMV")
put("uni_cfa_a", fitMeasures(one, c("cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr")))
write.csv(do.call(rbind, out), file.path(dir, "factor_reference.csv"), row.names = FALSE)
# unrotated minres solutions behind the within-scale ECV
put("uni_ss_all", fa(polychoric(ord)$rho, 3, rotate = "none", n.obs = nrow(ord))$Vaccounted[1, ])
put("uni_ss_b", fa(polychoric(ord[, 1:5])$rho, 2, rotate = "none", n.obs = nrow(ord))$Vaccounted[1, ])
write.csv(do.call(rbind, out), file.path(dir, "factor_reference.csv"), row.names = FALSE)
# Holzinger & Swineford (1939), from the shared reference data folder (not committed here)
hs_file <- file.path("..", "shared", "data", "HolzingerSwineford1939.csv")
if (file.exists(hs_file)) {
  hs <- read.csv(hs_file)[, paste0("x", 1:9)]
  fa_put("hs_ml_oblimin", fa(hs, 3, fm = "ml", rotate = "oblimin"))
  k <- KMO(hs); put("hs_kmo", c(overall = k$MSA, k$MSAi))
  b <- cortest.bartlett(cor(hs), n = nrow(hs)); put("hs_bartlett", c(chi2 = b$chisq, df = b$df))
  o <- omega(hs, 3, plot = FALSE); put("hs_omega", c(omega_h = o$omega_h, omega_total = o$omega.tot))
  # Schmid-Leiman of the three-factor CFA (lavaan, ML, standardized solution)
  suppressPackageStartupMessages(library(lavaan))
  fit <- cfa("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9", data = hs)
  std <- lavInspect(fit, "std")
  o <- omega(std$lambda, Phi = std$psi, plot = FALSE)
  put("hs_cfa_omega", c(omega_h = o$omega_h, omega_total = o$omega.tot, ecv = o$ECV))
  put("hs_cfa_omega_group", as.matrix(o$omega.group)); put("hs_cfa_omega_sl", o$schmid$sl)
  write.csv(do.call(rbind, out), file.path(dir, "factor_reference.csv"), row.names = FALSE)
}
cat("wrote", nrow(do.call(rbind, out)), "rows\n")
