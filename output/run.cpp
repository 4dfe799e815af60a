#include<stdlib.h>
#include "objects.h"
#include<ctime>
#include<random>

#include "code_objects/neurongroup_spike_resetter_codeobject.h"
#include "code_objects/neurongroup_spike_thresholder_codeobject.h"
#include "code_objects/neurongroup_stateupdater_codeobject.h"
#include "code_objects/spikemonitor_codeobject.h"
#include "code_objects/statemonitor_codeobject.h"


void brian_start()
{
	_init_arrays();
	_load_arrays();
	// Initialize clocks (link timestep and dt to the respective arrays)
    brian::defaultclock.timestep = brian::_array_defaultclock_timestep;
    brian::defaultclock.t = brian::_array_defaultclock_t;
    brian::defaultclock.dt = brian::_array_defaultclock_dt;
    brian::statemonitor_clock.timestep = brian::_array_statemonitor_clock_timestep;
    brian::statemonitor_clock.t = brian::_array_statemonitor_clock_t;
    brian::statemonitor_clock.dt = brian::_array_statemonitor_clock_dt;
}

void brian_end()
{
	_write_arrays();
	_dealloc_arrays();
}


