"""Brian2's own examples as a test suite: each single-population model of `brian-team/brian2/examples`
written here as the script writes it (equations, constants as its namespace, threshold, reset,
refractoriness, method, `dt`, the values it assigns), with only the `NeuronGroup` call changed into
`jaxiaf.FFIAF(...)` and the run shortened (few neurons, 1000-2000 steps). Each is compared with Brian2
running the same text (numpy target, float64, `brian_ref.EquationLayer`; `xi` terms fed the layer's own
draws): identical spike trains, traces bit-identical where the step is arithmetic only, and >= 99 % of
the neurons identical (here: all of them) with traces within 1e-8 relative where the step calls `exp`,
`log`, `pow`, `sin`, ... of the state.

In the suite (26 models from 15 scripts): `IF_curve_LIF.py`, `IF_curve_Hodgkin_Huxley.py` (refractoriness
as a condition), `frompapers/Brette_Gerstner_2005.py` (its three behaviours), `Touboul_Brette_2008.py`,
`Naud_et_al_2008_adex_firing_patterns.py` (its eight patterns, each passed as `namespace=` as the script
does), `Hindmarsh_Rose_1984.py`, `Morris_Lecar_1981.py`, `Wang_Buszaki_1996.py`,
`Rothman_Manis_2003.py` (cell types type1c, type2 and type2o), `Platkiewicz_Brette_2011.py` (`xi`, `inf`),
`Brette_2004.py` and `phase_locking.py` (`sin(2*pi*...*t)`), `advanced/Ornstein_Uhlenbeck.py` (`xi`),
and the neuron models of `Izhikevich_2003.py` and `Izhikevich_2007.py` (their synapses left out, see
below). Values a script draws at random (`rand()`) are drawn here with a seeded generator.

Left out, and why:
- input through other groups (`Synapses`, `PoissonGroup`, `SpikeGeneratorGroup`, `linked_var`):
  `adaptive_threshold.py`, `reliability.py`, `frompapers/Brette_Guigon_2003.py` (also `shared`),
  `coupled_oscillators.py`, `CUBA.py`, `COBAHH.py`, the network models of `frompapers/` (Brunel,
  Diesmann, Vogels, Clopath, Diehl & Cook, Wang 2002, ...) and the synapses of `Izhikevich_2003.py`
  and `Izhikevich_2007.py` (their neurons are here, with a constant `I` = 10 (2003) or initial
  conductances `ge` (2007) instead of the synaptic input);
  `run_regularly` (`Izhikevich_2003.py`'s `I_noise`: a constant here);
- a `TimedArray` in the namespace (`frompapers/Jansen_Rit_1995_single_column.py`'s `nstim(t)`): the
  layer's input is its `I_inp(t, i)` (see `test_brian2_scripts.py`), the namespace holds constants only;
- no differential equation (`advanced/exprel_function.py` evaluates subexpressions only);
- morphologies (`compartmental/`), GSL methods (`advanced/compare_GSL_to_conventional.py`) and
  standalone devices (`c_standalone/`, `*_standalone.py`).
"""

from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np
import pytest
from brian2 import Hz, cm, mS, ms, msiemens, mV, nA, nS, pA, pF, siemens, uA, uF, ufarad, umetre

import jaxiaf
from brian_ref import EquationLayer
from brian_ref.zoo import transcendental
from jaxiaf._core.noise import standard_normal_raster

pytestmark = pytest.mark.brian


@dataclass
class Example:
    """One model as its script writes it: `eqs`, `namespace`, the `NeuronGroup` arguments, the values the
    script assigns (`values`: parameters and initial state, SI), `dt` and the steps run here."""

    eqs: str
    namespace: dict = field(default_factory=dict)
    threshold: str | None = None
    reset: str | None = None
    refractory: object = 0.0
    method: str | None = None
    values: dict = field(default_factory=dict)
    n: int = 4
    dt: float = 1e-4
    steps: int = 1000


_RNG = np.random.default_rng(0)

IF_LIF = Example(
    """
dv/dt = (v0 - v) / tau : volt (unless refractory)
v0 : volt
""",
    namespace=dict(tau=10 * ms),
    threshold="v > 10*mV", reset="v = 0*mV", refractory=5e-3, method="exact",
    values=dict(v=0.0, v0=np.asarray(20 * mV * np.arange(8) / 7)), n=8,
)  # fmt: skip

_AREA = 20000 * umetre**2
IF_HH = Example(
    """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*(13.*mV-v+VT)/
    (exp((13.*mV-v+VT)/(4.*mV))-1.)/ms*(1-m)-0.28*(mV**-1)*(v-VT-40.*mV)/
    (exp((v-VT-40.*mV)/(5.*mV))-1.)/ms*m : 1
dn/dt = 0.032*(mV**-1)*(15.*mV-v+VT)/
    (exp((15.*mV-v+VT)/(5.*mV))-1.)/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
I : amp
""",
    namespace=dict(
        area=_AREA, Cm=1 * ufarad * cm**-2 * _AREA, gl=5e-5 * siemens * cm**-2 * _AREA, El=-65 * mV,
        EK=-90 * mV, ENa=50 * mV, g_na=100 * msiemens * cm**-2 * _AREA, g_kd=30 * msiemens * cm**-2 * _AREA,
        VT=-63 * mV,
    ),
    threshold="v > -40*mV", refractory="v > -40*mV", method="exponential_euler",
    values=dict(v=-0.065, I=np.asarray(0.7 * nA * np.arange(6) / 6) + 0.2e-9), n=6, steps=1500,
)  # fmt: skip

_ADEX = """
dvm/dt = (gL*(EL - vm) + gL*DeltaT*exp((vm - VT)/DeltaT) + I - w)/C : volt
dw/dt = (a*(vm - EL) - w)/tauw : amp
I : amp
"""
_BG = dict(C=281 * pF, gL=30 * nS, EL=-70.6 * mV, VT=-50.4 * mV, DeltaT=2 * mV)
_BG["Vcut"] = _BG["VT"] + 5 * _BG["DeltaT"]
BEHAVIOURS = {
    "regular spiking": dict(tauw=144 * ms, a=4 * nS, b=0.0805 * nA, Vr=-70.6 * mV),
    "bursting": dict(tauw=20 * ms, a=4 * nS, b=0.5 * nA, Vr=_BG["VT"] + 5 * mV),
    "fast spiking": dict(tauw=144 * ms, a=2 * _BG["C"] / (144 * ms), b=0 * nA, Vr=-70.6 * mV),
}
BRETTE_GERSTNER = {
    name: Example(
        _ADEX,
        namespace={**_BG, **b},
        threshold="vm>Vcut",
        reset="vm=Vr; w+=b",
        method="euler",
        values=dict(vm=-0.0706, I=np.asarray([0.6, 1.0, 1.5]) * 1e-9),
        n=3,
        steps=1500,
    )  # fmt: skip
    for name, b in BEHAVIOURS.items()
}

TOUBOUL_BRETTE = Example(
    """
dvm/dt=(gL*(EL-vm)+gL*DeltaT*exp((vm-VT)/DeltaT)+I-w)/C : volt
dw/dt=(a*(vm-EL)-w)/tauw : amp
Vr:volt
""",
    namespace=dict(
        C=281 * pF, gL=30 * nS, EL=-70.6 * mV, VT=-50.4 * mV, DeltaT=2 * mV, tauw=40 * ms, a=4 * nS,
        b=0.08 * nA, I=0.8 * nA, Vcut=-50.4 * mV + 5 * 2 * mV,
    ),
    threshold="vm > Vcut", reset="vm = Vr; w += b",
    values=dict(vm=-0.0706, w=0.0, Vr=np.linspace(-48.3e-3, -47.7e-3, 4)), dt=1e-5, steps=2000,
)  # fmt: skip

_NAUD_EQS = """
    dvm/dt = (g_l*(e_l - vm) + g_l*d_t*exp((vm-v_t)/d_t) + i_stim - w)/c_m : volt
    dw/dt  = (a*(vm - e_l) - w)/tau_w : amp
    """
_P = dict(c_m=pF, g_l=nS, e_l=mV, v_t=mV, d_t=mV, a=nS, tau_w=ms, b=pA, v_r=mV, i_stim=pA)
_PATTERNS = {
    "tonic spiking": (200, 10, -70.0, -50.0, 2.0, 2.0, 30.0, 0.0, -58.0, 500),
    "adaptation": (200, 12, -70.0, -50.0, 2.0, 2.0, 300.0, 60.0, -58.0, 500),
    "initial burst": (130, 18, -58.0, -50.0, 2.0, 4.0, 150.0, 120.0, -50.0, 400),
    "regular bursting": (200, 10, -58.0, -50.0, 2.0, 2.0, 120.0, 100.0, -46.0, 210),
    "delayed accelerating": (200, 12, -70.0, -50.0, 2.0, -10.0, 300.0, 0.0, -58.0, 300),
    "delayed regular bursting": (100, 10, -65.0, -50.0, 2.0, -10.0, 90.0, 30.0, -47.0, 110),
    "transient spiking": (100, 10, -65.0, -50.0, 2.0, 10.0, 90.0, 100.0, -47.0, 180),
    "irregular spiking": (100, 12, -60.0, -50.0, 2.0, -11.0, 130.0, 30.0, -48.0, 160),
}
NAUD = {
    name: Example(
        _NAUD_EQS,
        namespace={k: x * _P[k] for k, x in zip(_P, row, strict=True)},
        threshold="vm > 0*mV",
        reset="vm = v_r; w += b",
        method="euler",
        values=dict(vm=row[2] * 1e-3, w=0.0),
        n=1,
        steps=2000,
    )  # fmt: skip
    for name, row in _PATTERNS.items()
}

HINDMARSH_ROSE = Example(
    """
dx/dt = (y - a*x**3 + b*x**2 + I - z)/time_unit : 1
dy/dt = (c - d*x**2 - y)/time_unit : 1
dz/dt = r*(s*(x - x_1) - z)/time_unit : 1
I : 1 (constant)
""",
    namespace=dict(time_unit=1 * ms, x_1=-1.6, a=1, b=3, c=1, d=5, r=0.001, s=4),
    method="rk4", values=dict(x=-1.6, y=1 - 5 * 1.6**2, z=0.0, I=np.asarray([0.4, 2, 4])), n=3, steps=2000,
)  # fmt: skip

_ML_NS = dict(
    g_L=2 * mS, g_Ca=4 * mS, g_K=8 * mS, V_L=-50 * mV, V_Ca=100 * mV, V_K=-70 * mV,
    lambda_n__max=1.0 / (15 * ms), V_1=10 * mV, V_2=15 * mV, V_3=-1 * mV, V_4=14.5 * mV, C=20 * uF,
)  # fmt: skip
MORRIS_LECAR = Example(
    """
dV/dt = (-g_L*(V - V_L) - g_Ca*m_inf*(V - V_Ca) - g_K*n*(V - V_K) + I)/C : volt
dn/dt = lambda_n*(n_inf - n) : 1
m_inf = 0.5*(1 + tanh((V - V_1)/V_2)) : 1
n_inf = 0.5*(1 + tanh((V - V_3)/V_4)) : 1
lambda_n = lambda_n__max*cosh((V - V_3)/(2*V_4)) : Hz
I : amp
""",
    namespace=_ML_NS, method="exponential_euler",
    values=dict(
        V=-0.05, n=0.5 * (1 + np.tanh((-50 + 1) / 14.5)), I=np.asarray((np.arange(0, 17, 4) * 25 + 100) * uA)
    ),
    n=5, dt=1e-5, steps=2000,
)  # fmt: skip

WANG_BUSZAKI = Example(
    """
dv/dt = (-gNa*m**3*h*(v-ENa)-gK*n**4*(v-EK)-gL*(v-EL)+Iapp)/Cm : volt
m = alpha_m/(alpha_m+beta_m) : 1
alpha_m = -0.1/mV*(v+35*mV)/(exp(-0.1/mV*(v+35*mV))-1)/ms : Hz
beta_m = 4*exp(-(v+60*mV)/(18*mV))/ms : Hz
dh/dt = 5*(alpha_h*(1-h)-beta_h*h) : 1
alpha_h = 0.07*exp(-(v+58*mV)/(20*mV))/ms : Hz
beta_h = 1./(exp(-0.1/mV*(v+28*mV))+1)/ms : Hz
dn/dt = 5*(alpha_n*(1-n)-beta_n*n) : 1
alpha_n = -0.01/mV*(v+34*mV)/(exp(-0.1/mV*(v+34*mV))-1)/ms : Hz
beta_n = 0.125*exp(-(v+44*mV)/(80*mV))/ms : Hz
""",
    namespace=dict(
        Cm=1 * uF, Iapp=2 * uA, gL=0.1 * msiemens, EL=-65 * mV, ENa=55 * mV, EK=-90 * mV, gNa=35 * msiemens,
        gK=9 * msiemens,
    ),
    values=dict(v=-0.07, h=1.0), n=1, dt=1e-5, steps=1500,
)  # fmt: skip

_RM_CHANNELS = """
dv/dt = (ileak + ina + ikht + iklt + ika + ih + ihcno + I)/C : volt
vu = v/mV : 1  # unitless v
I : amp
ileak = gl*(El-v) : amp
ika = gkabar*a**4*b*c*(EK-v): amp
da/dt=q10*(ainf-a)/atau : 1
db/dt=q10*(binf-b)/btau : 1
dc/dt=q10*(cinf-c)/ctau : 1
ainf = (1. / (1 + exp(-(vu + 31) / 6.)))**0.25 : 1
binf = 1. / (1 + exp((vu + 66) / 7.))**0.5 : 1
cinf = 1. / (1 + exp((vu + 66) / 7.))**0.5 : 1
atau =  ((100. / (7*exp((vu+60) / 14.) + 29*exp(-(vu+60) / 24.))) + 0.1)*ms : second
btau =  ((1000. / (14*exp((vu+60) / 27.) + 29*exp(-(vu+60) / 24.))) + 1)*ms : second
ctau = ((90. / (1 + exp((-66-vu) / 17.))) + 10)*ms : second
ina = gnabar*m**3*h*(ENa-v) : amp
dm/dt=q10*(minf-m)/mtau : 1
dh/dt=q10*(hinf-h)/htau : 1
minf = 1./(1+exp(-(vu + 38.) / 7.)) : 1
hinf = 1./(1+exp((vu + 65.) / 6.)) : 1
mtau =  ((10. / (5*exp((vu+60.) / 18.) + 36.*exp(-(vu+60.) / 25.))) + 0.04)*ms : second
htau =  ((100. / (7*exp((vu+60.) / 11.) + 10.*exp(-(vu+60.) / 25.))) + 0.6)*ms : second
ih = ghbar*r*(Eh-v) : amp
dr/dt=q10*(rinf-r)/rtau : 1
rinf = 1. / (1+exp((vu + 76.) / 7.)) : 1
rtau = ((100000. / (237.*exp((vu+60.) / 12.) + 17.*exp(-(vu+60.) / 14.))) + 25.)*ms : second
iklt = gkltbar*w**4*z*(EK-v) : amp
dw/dt=q10*(winf-w)/wtau : 1
dz/dt=q10*(zinf-z)/ztau : 1
winf = (1. / (1 + exp(-(vu + 48.) / 6.)))**0.25 : 1
zinf = zss + ((1.-zss) / (1 + exp((vu + 71.) / 10.))) : 1
wtau = ((100. / (6.*exp((vu+60.) / 6.) + 16.*exp(-(vu+60.) / 45.))) + 1.5)*ms : second
ztau = ((1000. / (exp((vu+60.) / 20.) + exp(-(vu+60.) / 8.))) + 50)*ms : second
ikht = gkhtbar*(nf*n**2 + (1-nf)*p)*(EK-v) : amp
dn/dt=q10*(ninf-n)/ntau : 1
dp/dt=q10*(pinf-p)/ptau : 1
ninf =   (1 + exp(-(vu + 15) / 5.))**-0.5 : 1
pinf =  1. / (1 + exp(-(vu + 23) / 6.)) : 1
ntau =  ((100. / (11*exp((vu+60) / 24.) + 21*exp(-(vu+60) / 23.))) + 0.7)*ms : second
ptau = ((100. / (4*exp((vu+60) / 32.) + 5*exp(-(vu+60) / 22.))) + 5)*ms : second
ihcno = gbarno*(h1*frac + h2*(1-frac))*(Eh-v) : amp
dh1/dt=(hinfno-h1)/tau1 : 1
dh2/dt=(hinfno-h2)/tau2 : 1
hinfno = 1./(1+exp((vu+66.)/7.)) : 1
tau1 = bet1/(qt*0.008*(1+alp1))*ms : second
tau2 = bet2/(qt*0.0029*(1+alp2))*ms : second
alp1 = exp(1e-3*3*(vu+50)*9.648e4/(8.315*(273.16+temp))) : 1
bet1 = exp(1e-3*3*0.3*(vu+50)*9.648e4/(8.315*(273.16+temp))) : 1
alp2 = exp(1e-3*3*(vu+84)*9.648e4/(8.315*(273.16+temp))) : 1
bet2 = exp(1e-3*3*0.6*(vu+84)*9.648e4/(8.315*(273.16+temp))) : 1
"""
_RM_NS = dict(
    C=12 * pF, Eh=-43 * mV, EK=-70 * mV, El=-65 * mV, ENa=50 * mV, nf=0.85, zss=0.5, temp=22.0,
    q10=3.0 ** ((22.0 - 22) / 10.0), frac=0.0, qt=4.5 ** ((22.0 - 33.0) / 10.0),
)  # fmt: skip
_RM_TYPES = {"type1c": (1000, 150, 0, 0, 0.5, 0, 2), "type2": (1000, 150, 200, 0, 20, 0, 2),
             "type2o": (1000, 150, 600, 0, 0, 40, 2)}  # fmt: skip
_RM_NAMES = ("gnabar", "gkhtbar", "gkltbar", "gkabar", "ghbar", "gbarno", "gl")
ROTHMAN_MANIS = {
    name: Example(
        _RM_CHANNELS,
        namespace={**_RM_NS, **{k: x * nS for k, x in zip(_RM_NAMES, row, strict=True)}},
        method="exponential_euler",
        values=dict(v=-0.065, I=np.asarray([0.0, 250e-12])),
        n=2,
        steps=1000,
    )  # fmt: skip
    for name, row in _RM_TYPES.items()
}

PLATKIEWICZ_BRETTE = Example(
    """
dv/dt=(EL-v+mu+sigma*I)/tau : volt
dtheta/dt=(vT+a*clip(v-Vi, 0*mV, inf*mV)-theta)/tauh : volt
dI/dt=-I/tauI+(2/tauI)**.5*xi : 1 # Ornstein-Uhlenbeck
""",
    namespace=dict(
        ENa=60 * mV, EL=-70 * mV, vT=-55 * mV, Vi=-63 * mV, tauh=5 * ms, tau=5 * ms, ka=5 * mV, ki=6 * mV,
        a=5.0 / 6.0, tauI=5 * ms, mu=15 * mV, sigma=6 * mV / np.sqrt(5.0 / 10.0),
    ),
    threshold="v>theta", reset="v=EL", refractory=5e-3,
    values=dict(v=-0.07, theta=-0.055, I=0.0), n=6, steps=2000,
)  # fmt: skip

BRETTE_2004 = Example(
    """
dv/dt = (-v + a + 2*sin(2*pi*t/tau))/tau : 1
a : 1
""",
    namespace=dict(tau=100 * ms), threshold="v>1", reset="v=0", method="euler",
    values=dict(a=np.linspace(2, 4, 5)), n=5, steps=2000,
)  # fmt: skip

PHASE_LOCKING = Example(
    """
dv/dt = (-v + a * sin(2 * pi * freq * t) + b) / tau : 1
a : 1
""",
    namespace=dict(tau=20 * ms, b=1.2, freq=10 * Hz), threshold="v > 1", reset="v = 0", method="euler",
    values=dict(v=_RNG.uniform(size=5), a=0.05 + 0.7 * np.arange(5) / 5), n=5, steps=2000,
)  # fmt: skip

ORNSTEIN_UHLENBECK = Example(
    """
    tau : second
    sigma : 1
    dy/dt = -y/tau + sqrt(2*sigma**2/tau)*xi : 1
    """,
    method="euler", values=dict(tau=np.asarray([1, 0.1]), sigma=np.asarray([0.1, 0.31622]), y=1.0),
    n=2, steps=2000,
)  # fmt: skip

_re = _RNG.uniform(size=4)
IZHIKEVICH_2003 = Example(
    """dv/dt = (0.04*v**2 + 5*v + 140 - u + I + I_noise )/ms : 1
         du/dt = (a*(b*v - u))/ms  : 1
         I : 1
         I_noise : 1
         a : 1
         b : 1
         c : 1
         d : 1
       """,
    threshold="v>=30", reset="v=c; u+=d", method="euler",
    values=dict(v=-65.0, u=0.2 * -65.0, I=10.0, I_noise=5 * _RNG.standard_normal(4), a=0.02, b=0.2,
                c=-65 + 15 * _re**2, d=8 - 6 * _re**2),
    n=4, dt=1e-3, steps=1000,
)  # fmt: skip

IZHIKEVICH_2007 = Example(
    """dv/dt = (ge * (Ee-vr) + El - v) / taum : volt
                            dge/dt = -ge / taue : 1""",
    namespace=dict(taum=10 * ms, Ee=0 * mV, vt=-54 * mV, vr=-60 * mV, El=-74 * mV, taue=5 * ms),
    threshold="v>vt", reset="v = vr", method="exact",
    values=dict(v=-0.06, ge=np.asarray([0.0, 1.0, 2.0, 4.0])),
    n=4, steps=1000,
)  # fmt: skip

EXAMPLES = {
    "IF_curve_LIF": IF_LIF,
    "IF_curve_Hodgkin_Huxley": IF_HH,
    **{f"Brette_Gerstner_2005 {k}": v for k, v in BRETTE_GERSTNER.items()},
    "Touboul_Brette_2008": TOUBOUL_BRETTE,
    **{f"Naud_et_al_2008 {k}": v for k, v in NAUD.items()},
    "Hindmarsh_Rose_1984": HINDMARSH_ROSE,
    "Morris_Lecar_1981": MORRIS_LECAR,
    "Wang_Buszaki_1996": WANG_BUSZAKI,
    **{f"Rothman_Manis_2003 {k}": v for k, v in ROTHMAN_MANIS.items()},
    "Platkiewicz_Brette_2011": PLATKIEWICZ_BRETTE,
    "Brette_2004": BRETTE_2004,
    "phase_locking": PHASE_LOCKING,
    "Ornstein_Uhlenbeck": ORNSTEIN_UHLENBECK,
    "Izhikevich_2003 neurons": IZHIKEVICH_2003,
    "Izhikevich_2007 neurons": IZHIKEVICH_2007,
}


def _state(mod) -> dict:
    """The initial state by the equations' names (`State.v` is the primary variable)."""
    state = mod.neuron_state
    return {
        mod.sim.model.state_names[0]: np.asarray(state.v),
        **{k: np.asarray(v) for k, v in state.extra.items()},
    }


def _run_both(ex: Example):
    mod = jaxiaf.FFIAF(
        np.zeros((1, ex.n)), dt=ex.dt, neuron_eq=ex.eqs, namespace=ex.namespace, threshold=ex.threshold,
        reset=ex.reset, refractory=ex.refractory, integrator_name=ex.method, **ex.values,
    )  # fmt: skip
    spikes, _, record = mod(np.zeros((ex.steps, 1)), record=True)
    model = mod.sim.model
    xi = None
    if model.draws:
        raster = standard_normal_raster(mod.neuron_state.key, 0, ex.steps, model.draws * ex.n, jnp.float64)
        xi = np.asarray(raster).reshape(ex.steps, model.draws, ex.n)
    declared = set(model.parameter_names)
    ref = EquationLayer(
        ex.eqs, threshold=model.threshold or None, reset=model.reset or None, refractory=ex.refractory,
        method=model.method, parameters={k: v for k, v in ex.values.items() if k in declared}, dt=ex.dt,
        namespace=ex.namespace,
    ).evolve(np.zeros((ex.steps, ex.n)), xi=xi, init=_state(mod))  # fmt: skip
    return np.asarray(spikes), {k: np.asarray(v) for k, v in record.items() if k != "spikes"}, ref, model


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_matches_brian2(name):
    spikes, traces, ref, model = _run_both(EXAMPLES[name])
    assert model.condition is None or spikes.any(), "a spiking model that never spikes tests nothing"
    same = (spikes == ref.raster()).all(axis=0)
    if not transcendental(model) and "**" not in "".join(model.update + model.per_step):
        assert same.all()
        for var, trace in ref.traces.items():
            np.testing.assert_array_equal(traces[var], trace, err_msg=var)
        return
    assert same.mean() >= 0.99, f"{(~same).sum()} of {same.size} neurons differ"
    for var, trace in ref.traces.items():
        np.testing.assert_allclose(traces[var], trace, rtol=1e-8, atol=1e-15, err_msg=var)


def test_the_suite_covers_25_models():
    assert len(EXAMPLES) >= 25
