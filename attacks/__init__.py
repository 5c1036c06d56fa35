"""attacks: adversarial example generators, one algorithm per file, all in pixel space,
plus the lecture's linear arguments and the evaluation tools built on the attacks."""

from attacks.apgd import apgd
from attacks.autoattack import StandardEvaluation, autoattack, standard_evaluation
from attacks.bim import bim
from attacks.cw import cw
from attacks.deepfool import deepfool
from attacks.dimension import dimension_sweep, linear_model_shift
from attacks.fab import fab
from attacks.fgsm import fgsm
from attacks.fooling import FoolingGrid, fool, fooling_grid
from attacks.linear_toy import ToyResult, linear_toy, toy_table
from attacks.minimal import MinimalPerturbation, minimal_perturbation
from attacks.pgd import pgd
from attacks.registry import AttackInfo, get_attack, list_attacks, register
from attacks.robust_accuracy import RobustAccuracy, robust_accuracy
from attacks.sanity import SanityCheck, carlini_checks
from attacks.square import square
from attacks.transfer import transfer

__all__ = [
    "AttackInfo", "FoolingGrid", "MinimalPerturbation", "RobustAccuracy", "SanityCheck",
    "StandardEvaluation", "ToyResult", "apgd", "autoattack", "bim", "carlini_checks", "cw",
    "deepfool", "dimension_sweep", "fab", "fgsm", "fool", "fooling_grid", "get_attack",
    "linear_model_shift", "linear_toy", "list_attacks", "minimal_perturbation", "pgd",
    "register", "robust_accuracy", "square", "standard_evaluation", "toy_table", "transfer",
]
