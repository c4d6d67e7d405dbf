"""The Brian2 equations of Rockpool's spiking-input and recurrent IAF layers (`rockpool.nn.layers.iaf_brian`),
as Rockpool writes them, so that Brian2 generates the same arithmetic for `jaxiaf` as for Rockpool's layers.

Each layer adds its synaptic currents with Brian2 `Synapses(..., model="w : 1", on_pre="<I>_post +=
w*amp")` connecting every pair (`connect()`): a weight is a current jump in A. `I_inp(t, i)` is Rockpool's
noise input in the spiking-input layers (zero here: see the layers' `noise_std`) and the input current in
[`jaxiaf.RecIAFBrian`][].
"""

IAF_SPIKING_INPUT_FF = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_syn + I_bias + I_inp(t, i)          : amp
dI_syn/dt = -I_syn / tau_s                      : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
tau_s                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
"""
"""Rockpool's `eqNeuronIAFSpkInFF`: [`jaxiaf.FFIAFSpkInBrian`][]'s neurons, input spikes onto `I_syn`."""

IAF_RECURRENT = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_inp(t, i) + I_syn + I_bias          : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
dI_syn/dt = -I_syn / tau_s                      : amp
tau_s                                           : second
"""
"""Rockpool's `eqNeuronIAFRec + eqSynapseExp`: [`jaxiaf.RecIAFBrian`][]'s neurons, recurrent spikes onto
`I_syn`."""

IAF_SPIKING_INPUT_RECURRENT = """
dv/dt = (v_rest - v + r_m * I_total) / tau_m    : volt (unless refractory)
I_total = I_inp(t, i) + I_syn + I_bias          : amp
I_syn = I_syn_inp + I_syn_rec                   : amp
I_bias                                          : amp
v_rest                                          : volt
tau_m                                           : second
r_m                                             : ohm
v_thresh                                        : volt
v_reset                                         : volt
dI_syn_inp/dt = -I_syn_inp / tau_syn_inp        : amp
dI_syn_rec/dt = -I_syn_rec / tau_syn_rec        : amp
tau_syn_inp                                     : second
tau_syn_rec                                     : second
"""
"""Rockpool's `eqNeuronIAFSpkInRec + eqSynapseExpSpkInRec`: [`jaxiaf.RecIAFSpkInBrian`][]'s neurons, input
spikes onto `I_syn_inp`, recurrent ones onto `I_syn_rec`."""
