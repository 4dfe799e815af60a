

#include "objects.h"
#include "synapses_classes.h"
#include "brianlib/clocks.h"
#include "brianlib/dynamic_array.h"
#include "brianlib/stdint_compat.h"
#include "network.h"
#include<chrono>
#include<random>
#include<vector>
#include<iostream>
#include<fstream>
#include<map>
#include<tuple>
#include<cstdlib>
#include<string>

namespace brian {

std::string results_dir = "results/";  // can be overwritten by --results_dir command line arg

// For multhreading, we need one generator for each thread.
std::vector< RandomGenerator > _random_generators;

std::ostream& operator<<(std::ostream& out, const RandomGenerator& rng)
{
    return out << rng.gen;
}

std::istream& operator>>(std::istream& in, RandomGenerator& rng)
{
    return in >> rng.gen;
}

//////////////// networks /////////////////
Network magicnetwork;

void set_variable_from_value(std::string varname, char* var_pointer, size_t size, char value) {
    #ifdef DEBUG
    std::cout << "Setting '" << varname << "' to " << (value == 1 ? "True" : "False") << std::endl;
    #endif
    std::fill(var_pointer, var_pointer+size, value);
}

template<class T> void set_variable_from_value(std::string varname, T* var_pointer, size_t size, T value) {
    #ifdef DEBUG
    std::cout << "Setting '" << varname << "' to " << value << std::endl;
    #endif
    std::fill(var_pointer, var_pointer+size, value);
}

template<class T> void set_variable_from_file(std::string varname, T* var_pointer, size_t data_size, std::string filename) {
    ifstream f;
    streampos size;
    #ifdef DEBUG
    std::cout << "Setting '" << varname << "' from file '" << filename << "'" << std::endl;
    #endif
    f.open(filename, ios::in | ios::binary | ios::ate);
    size = f.tellg();
    if (size != data_size) {
        std::cerr << "Error reading '" << filename << "': file size " << size << " does not match expected size " << data_size << std::endl;
        return;
    }
    f.seekg(0, ios::beg);
    if (f.is_open())
        f.read(reinterpret_cast<char *>(var_pointer), data_size);
    else
        std::cerr << "Could not read '" << filename << "'" << std::endl;
    if (f.fail())
        std::cerr << "Error reading '" << filename << "'" << std::endl;
}

//////////////// set arrays by name ///////
void set_variable_by_name(std::string name, std::string s_value) {
    size_t var_size;
    size_t data_size;
    // C-style or Python-style capitalization is allowed for boolean values
    if (s_value == "true" || s_value == "True")
        s_value = "1";
    else if (s_value == "false" || s_value == "False")
        s_value = "0";
    // non-dynamic arrays
    if (name == "neurongroup._spikespace") {
        var_size = 2001;
        data_size = 2001*sizeof(int32_t);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<int32_t>(name, _array_neurongroup__spikespace, var_size, (int32_t)atoi(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup__spikespace, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.C_m") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_C_m, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_C_m, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.E_L") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_E_L, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_E_L, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.g_L") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_g_L, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_g_L, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.k") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_k, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_k, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.lastspike") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_lastspike, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_lastspike, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.not_refractory") {
        var_size = 2000;
        data_size = 2000*sizeof(char);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value(name, _array_neurongroup_not_refractory, var_size, (char)atoi(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_not_refractory, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.v") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_v, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_v, data_size, s_value);
        }
        return;
    }
    if (name == "neurongroup.V_thr") {
        var_size = 2000;
        data_size = 2000*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _array_neurongroup_V_thr, var_size, (double)atof(s_value.c_str()));

        } else {
            // set from file
            set_variable_from_file(name, _array_neurongroup_V_thr, data_size, s_value);
        }
        return;
    }
    // dynamic arrays (1d)
    if (name == "_timedarray.values") {
        var_size = 1000;
        data_size = var_size*sizeof(double);
        if (s_value[0] == '-' || (s_value[0] >= '0' && s_value[0] <= '9')) {
            // set from single value
            set_variable_from_value<double>(name, _timedarray_values, var_size, (double)atof(s_value.c_str()));


        } else {
            // set from file
            set_variable_from_file(name, _timedarray_values, data_size, s_value);
        }
        return;
    }
    std::cerr << "Cannot set unknown variable '" << name << "'." << std::endl;
    exit(1);
}
//////////////// arrays ///////////////////
double * _array_defaultclock_dt;
const int _num__array_defaultclock_dt = 1;
double * _array_defaultclock_t;
const int _num__array_defaultclock_t = 1;
int64_t * _array_defaultclock_timestep;
const int _num__array_defaultclock_timestep = 1;
int32_t * _array_neurongroup__spikespace;
const int _num__array_neurongroup__spikespace = 2001;
double * _array_neurongroup_C_m;
const int _num__array_neurongroup_C_m = 2000;
double * _array_neurongroup_E_L;
const int _num__array_neurongroup_E_L = 2000;
double * _array_neurongroup_g_L;
const int _num__array_neurongroup_g_L = 2000;
int32_t * _array_neurongroup_i;
const int _num__array_neurongroup_i = 2000;
double * _array_neurongroup_k;
const int _num__array_neurongroup_k = 2000;
double * _array_neurongroup_lastspike;
const int _num__array_neurongroup_lastspike = 2000;
char * _array_neurongroup_not_refractory;
const int _num__array_neurongroup_not_refractory = 2000;
double * _array_neurongroup_v;
const int _num__array_neurongroup_v = 2000;
double * _array_neurongroup_V_thr;
const int _num__array_neurongroup_V_thr = 2000;
int32_t * _array_spikemonitor__source_idx;
const int _num__array_spikemonitor__source_idx = 2000;
int32_t * _array_spikemonitor_count;
const int _num__array_spikemonitor_count = 2000;
int32_t * _array_spikemonitor_N;
const int _num__array_spikemonitor_N = 1;
int32_t * _array_statemonitor__indices;
const int _num__array_statemonitor__indices = 2000;
double * _array_statemonitor_clock_dt;
const int _num__array_statemonitor_clock_dt = 1;
double * _array_statemonitor_clock_t;
const int _num__array_statemonitor_clock_t = 1;
int64_t * _array_statemonitor_clock_timestep;
const int _num__array_statemonitor_clock_timestep = 1;
int32_t * _array_statemonitor_N;
const int _num__array_statemonitor_N = 1;
double * _array_statemonitor_v;
const int _num__array_statemonitor_v = (0, 2000);

//////////////// dynamic arrays 1d /////////
std::vector<int32_t> _dynamic_array_spikemonitor_i;
std::vector<double> _dynamic_array_spikemonitor_t;
std::vector<double> _dynamic_array_statemonitor_t;

//////////////// dynamic arrays 2d /////////
DynamicArray2D<double> _dynamic_array_statemonitor_v;

/////////////// static arrays /////////////
int32_t * _static_array__array_statemonitor__indices;
const int _num__static_array__array_statemonitor__indices = 2000;
double * _timedarray_values;
const int _num__timedarray_values = 1000;

//////////////// synapses /////////////////

//////////////// clocks ///////////////////
// attributes will be set in run.cpp
Clock defaultclock;
Clock statemonitor_clock;

// Profiling information for each code object
}

void _init_arrays()
{
    using namespace brian;

    // Arrays initialized to 0
    _array_defaultclock_dt = new double[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_defaultclock_dt[i] = 0;

    _array_defaultclock_t = new double[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_defaultclock_t[i] = 0;

    _array_defaultclock_timestep = new int64_t[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_defaultclock_timestep[i] = 0;

    _array_neurongroup__spikespace = new int32_t[2001];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2001; i++) _array_neurongroup__spikespace[i] = 0;

    _array_neurongroup_C_m = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_C_m[i] = 0;

    _array_neurongroup_E_L = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_E_L[i] = 0;

    _array_neurongroup_g_L = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_g_L[i] = 0;

    _array_neurongroup_i = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_i[i] = 0;

    _array_neurongroup_k = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_k[i] = 0;

    _array_neurongroup_lastspike = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_lastspike[i] = 0;

    _array_neurongroup_not_refractory = new char[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_not_refractory[i] = 0;

    _array_neurongroup_v = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_v[i] = 0;

    _array_neurongroup_V_thr = new double[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_V_thr[i] = 0;

    _array_spikemonitor__source_idx = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_spikemonitor__source_idx[i] = 0;

    _array_spikemonitor_count = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_spikemonitor_count[i] = 0;

    _array_spikemonitor_N = new int32_t[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_spikemonitor_N[i] = 0;

    _array_statemonitor__indices = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_statemonitor__indices[i] = 0;

    _array_statemonitor_clock_dt = new double[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_statemonitor_clock_dt[i] = 0;

    _array_statemonitor_clock_t = new double[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_statemonitor_clock_t[i] = 0;

    _array_statemonitor_clock_timestep = new int64_t[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_statemonitor_clock_timestep[i] = 0;

    _array_statemonitor_N = new int32_t[1];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<1; i++) _array_statemonitor_N[i] = 0;


    // Arrays initialized to an "arange"
    _array_neurongroup_i = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_neurongroup_i[i] = 0 + i;

    _array_spikemonitor__source_idx = new int32_t[2000];
    #pragma omp parallel for schedule(static)
    for(int i=0; i<2000; i++) _array_spikemonitor__source_idx[i] = 0 + i;


    // static arrays
    _static_array__array_statemonitor__indices = new int32_t[2000];
    _timedarray_values = new double[1000];

    // Random number generator states
    std::random_device rd;
    for (int i=0; i<1; i++)
        _random_generators.push_back(RandomGenerator());
}

void _load_arrays()
{
    using namespace brian;

    ifstream f_static_array__array_statemonitor__indices;
    f_static_array__array_statemonitor__indices.open("static_arrays/_static_array__array_statemonitor__indices", ios::in | ios::binary);
    if(f_static_array__array_statemonitor__indices.is_open())
    {
        f_static_array__array_statemonitor__indices.read(reinterpret_cast<char*>(_static_array__array_statemonitor__indices), 2000*sizeof(int32_t));
    } else
    {
        std::cout << "Error opening static array _static_array__array_statemonitor__indices." << endl;
    }
    ifstream f_timedarray_values;
    f_timedarray_values.open("static_arrays/_timedarray_values", ios::in | ios::binary);
    if(f_timedarray_values.is_open())
    {
        f_timedarray_values.read(reinterpret_cast<char*>(_timedarray_values), 1000*sizeof(double));
    } else
    {
        std::cout << "Error opening static array _timedarray_values." << endl;
    }
}

void _write_arrays()
{
    using namespace brian;

    ofstream outfile__array_defaultclock_dt;
    outfile__array_defaultclock_dt.open(results_dir + "_array_defaultclock_dt_1978099143", ios::binary | ios::out);
    if(outfile__array_defaultclock_dt.is_open())
    {
        outfile__array_defaultclock_dt.write(reinterpret_cast<char*>(_array_defaultclock_dt), 1*sizeof(_array_defaultclock_dt[0]));
        outfile__array_defaultclock_dt.close();
    } else
    {
        std::cout << "Error writing output file for _array_defaultclock_dt." << endl;
    }
    ofstream outfile__array_defaultclock_t;
    outfile__array_defaultclock_t.open(results_dir + "_array_defaultclock_t_2669362164", ios::binary | ios::out);
    if(outfile__array_defaultclock_t.is_open())
    {
        outfile__array_defaultclock_t.write(reinterpret_cast<char*>(_array_defaultclock_t), 1*sizeof(_array_defaultclock_t[0]));
        outfile__array_defaultclock_t.close();
    } else
    {
        std::cout << "Error writing output file for _array_defaultclock_t." << endl;
    }
    ofstream outfile__array_defaultclock_timestep;
    outfile__array_defaultclock_timestep.open(results_dir + "_array_defaultclock_timestep_144223508", ios::binary | ios::out);
    if(outfile__array_defaultclock_timestep.is_open())
    {
        outfile__array_defaultclock_timestep.write(reinterpret_cast<char*>(_array_defaultclock_timestep), 1*sizeof(_array_defaultclock_timestep[0]));
        outfile__array_defaultclock_timestep.close();
    } else
    {
        std::cout << "Error writing output file for _array_defaultclock_timestep." << endl;
    }
    ofstream outfile__array_neurongroup__spikespace;
    outfile__array_neurongroup__spikespace.open(results_dir + "_array_neurongroup__spikespace_3522821529", ios::binary | ios::out);
    if(outfile__array_neurongroup__spikespace.is_open())
    {
        outfile__array_neurongroup__spikespace.write(reinterpret_cast<char*>(_array_neurongroup__spikespace), 2001*sizeof(_array_neurongroup__spikespace[0]));
        outfile__array_neurongroup__spikespace.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup__spikespace." << endl;
    }
    ofstream outfile__array_neurongroup_C_m;
    outfile__array_neurongroup_C_m.open(results_dir + "_array_neurongroup_C_m_2333756050", ios::binary | ios::out);
    if(outfile__array_neurongroup_C_m.is_open())
    {
        outfile__array_neurongroup_C_m.write(reinterpret_cast<char*>(_array_neurongroup_C_m), 2000*sizeof(_array_neurongroup_C_m[0]));
        outfile__array_neurongroup_C_m.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_C_m." << endl;
    }
    ofstream outfile__array_neurongroup_E_L;
    outfile__array_neurongroup_E_L.open(results_dir + "_array_neurongroup_E_L_3288213118", ios::binary | ios::out);
    if(outfile__array_neurongroup_E_L.is_open())
    {
        outfile__array_neurongroup_E_L.write(reinterpret_cast<char*>(_array_neurongroup_E_L), 2000*sizeof(_array_neurongroup_E_L[0]));
        outfile__array_neurongroup_E_L.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_E_L." << endl;
    }
    ofstream outfile__array_neurongroup_g_L;
    outfile__array_neurongroup_g_L.open(results_dir + "_array_neurongroup_g_L_4164400368", ios::binary | ios::out);
    if(outfile__array_neurongroup_g_L.is_open())
    {
        outfile__array_neurongroup_g_L.write(reinterpret_cast<char*>(_array_neurongroup_g_L), 2000*sizeof(_array_neurongroup_g_L[0]));
        outfile__array_neurongroup_g_L.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_g_L." << endl;
    }
    ofstream outfile__array_neurongroup_i;
    outfile__array_neurongroup_i.open(results_dir + "_array_neurongroup_i_2649026944", ios::binary | ios::out);
    if(outfile__array_neurongroup_i.is_open())
    {
        outfile__array_neurongroup_i.write(reinterpret_cast<char*>(_array_neurongroup_i), 2000*sizeof(_array_neurongroup_i[0]));
        outfile__array_neurongroup_i.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_i." << endl;
    }
    ofstream outfile__array_neurongroup_k;
    outfile__array_neurongroup_k.open(results_dir + "_array_neurongroup_k_1944752300", ios::binary | ios::out);
    if(outfile__array_neurongroup_k.is_open())
    {
        outfile__array_neurongroup_k.write(reinterpret_cast<char*>(_array_neurongroup_k), 2000*sizeof(_array_neurongroup_k[0]));
        outfile__array_neurongroup_k.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_k." << endl;
    }
    ofstream outfile__array_neurongroup_lastspike;
    outfile__array_neurongroup_lastspike.open(results_dir + "_array_neurongroup_lastspike_1647074423", ios::binary | ios::out);
    if(outfile__array_neurongroup_lastspike.is_open())
    {
        outfile__array_neurongroup_lastspike.write(reinterpret_cast<char*>(_array_neurongroup_lastspike), 2000*sizeof(_array_neurongroup_lastspike[0]));
        outfile__array_neurongroup_lastspike.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_lastspike." << endl;
    }
    ofstream outfile__array_neurongroup_not_refractory;
    outfile__array_neurongroup_not_refractory.open(results_dir + "_array_neurongroup_not_refractory_1422681464", ios::binary | ios::out);
    if(outfile__array_neurongroup_not_refractory.is_open())
    {
        outfile__array_neurongroup_not_refractory.write(reinterpret_cast<char*>(_array_neurongroup_not_refractory), 2000*sizeof(_array_neurongroup_not_refractory[0]));
        outfile__array_neurongroup_not_refractory.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_not_refractory." << endl;
    }
    ofstream outfile__array_neurongroup_v;
    outfile__array_neurongroup_v.open(results_dir + "_array_neurongroup_v_283966581", ios::binary | ios::out);
    if(outfile__array_neurongroup_v.is_open())
    {
        outfile__array_neurongroup_v.write(reinterpret_cast<char*>(_array_neurongroup_v), 2000*sizeof(_array_neurongroup_v[0]));
        outfile__array_neurongroup_v.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_v." << endl;
    }
    ofstream outfile__array_neurongroup_V_thr;
    outfile__array_neurongroup_V_thr.open(results_dir + "_array_neurongroup_V_thr_1014999105", ios::binary | ios::out);
    if(outfile__array_neurongroup_V_thr.is_open())
    {
        outfile__array_neurongroup_V_thr.write(reinterpret_cast<char*>(_array_neurongroup_V_thr), 2000*sizeof(_array_neurongroup_V_thr[0]));
        outfile__array_neurongroup_V_thr.close();
    } else
    {
        std::cout << "Error writing output file for _array_neurongroup_V_thr." << endl;
    }
    ofstream outfile__array_spikemonitor__source_idx;
    outfile__array_spikemonitor__source_idx.open(results_dir + "_array_spikemonitor__source_idx_1477951789", ios::binary | ios::out);
    if(outfile__array_spikemonitor__source_idx.is_open())
    {
        outfile__array_spikemonitor__source_idx.write(reinterpret_cast<char*>(_array_spikemonitor__source_idx), 2000*sizeof(_array_spikemonitor__source_idx[0]));
        outfile__array_spikemonitor__source_idx.close();
    } else
    {
        std::cout << "Error writing output file for _array_spikemonitor__source_idx." << endl;
    }
    ofstream outfile__array_spikemonitor_count;
    outfile__array_spikemonitor_count.open(results_dir + "_array_spikemonitor_count_598337445", ios::binary | ios::out);
    if(outfile__array_spikemonitor_count.is_open())
    {
        outfile__array_spikemonitor_count.write(reinterpret_cast<char*>(_array_spikemonitor_count), 2000*sizeof(_array_spikemonitor_count[0]));
        outfile__array_spikemonitor_count.close();
    } else
    {
        std::cout << "Error writing output file for _array_spikemonitor_count." << endl;
    }
    ofstream outfile__array_spikemonitor_N;
    outfile__array_spikemonitor_N.open(results_dir + "_array_spikemonitor_N_225734567", ios::binary | ios::out);
    if(outfile__array_spikemonitor_N.is_open())
    {
        outfile__array_spikemonitor_N.write(reinterpret_cast<char*>(_array_spikemonitor_N), 1*sizeof(_array_spikemonitor_N[0]));
        outfile__array_spikemonitor_N.close();
    } else
    {
        std::cout << "Error writing output file for _array_spikemonitor_N." << endl;
    }
    ofstream outfile__array_statemonitor__indices;
    outfile__array_statemonitor__indices.open(results_dir + "_array_statemonitor__indices_2854283999", ios::binary | ios::out);
    if(outfile__array_statemonitor__indices.is_open())
    {
        outfile__array_statemonitor__indices.write(reinterpret_cast<char*>(_array_statemonitor__indices), 2000*sizeof(_array_statemonitor__indices[0]));
        outfile__array_statemonitor__indices.close();
    } else
    {
        std::cout << "Error writing output file for _array_statemonitor__indices." << endl;
    }
    ofstream outfile__array_statemonitor_clock_dt;
    outfile__array_statemonitor_clock_dt.open(results_dir + "_array_statemonitor_clock_dt_1392639074", ios::binary | ios::out);
    if(outfile__array_statemonitor_clock_dt.is_open())
    {
        outfile__array_statemonitor_clock_dt.write(reinterpret_cast<char*>(_array_statemonitor_clock_dt), 1*sizeof(_array_statemonitor_clock_dt[0]));
        outfile__array_statemonitor_clock_dt.close();
    } else
    {
        std::cout << "Error writing output file for _array_statemonitor_clock_dt." << endl;
    }
    ofstream outfile__array_statemonitor_clock_t;
    outfile__array_statemonitor_clock_t.open(results_dir + "_array_statemonitor_clock_t_2696032964", ios::binary | ios::out);
    if(outfile__array_statemonitor_clock_t.is_open())
    {
        outfile__array_statemonitor_clock_t.write(reinterpret_cast<char*>(_array_statemonitor_clock_t), 1*sizeof(_array_statemonitor_clock_t[0]));
        outfile__array_statemonitor_clock_t.close();
    } else
    {
        std::cout << "Error writing output file for _array_statemonitor_clock_t." << endl;
    }
    ofstream outfile__array_statemonitor_clock_timestep;
    outfile__array_statemonitor_clock_timestep.open(results_dir + "_array_statemonitor_clock_timestep_1384860830", ios::binary | ios::out);
    if(outfile__array_statemonitor_clock_timestep.is_open())
    {
        outfile__array_statemonitor_clock_timestep.write(reinterpret_cast<char*>(_array_statemonitor_clock_timestep), 1*sizeof(_array_statemonitor_clock_timestep[0]));
        outfile__array_statemonitor_clock_timestep.close();
    } else
    {
        std::cout << "Error writing output file for _array_statemonitor_clock_timestep." << endl;
    }
    ofstream outfile__array_statemonitor_N;
    outfile__array_statemonitor_N.open(results_dir + "_array_statemonitor_N_4140778434", ios::binary | ios::out);
    if(outfile__array_statemonitor_N.is_open())
    {
        outfile__array_statemonitor_N.write(reinterpret_cast<char*>(_array_statemonitor_N), 1*sizeof(_array_statemonitor_N[0]));
        outfile__array_statemonitor_N.close();
    } else
    {
        std::cout << "Error writing output file for _array_statemonitor_N." << endl;
    }

    ofstream outfile__dynamic_array_spikemonitor_i;
    outfile__dynamic_array_spikemonitor_i.open(results_dir + "_dynamic_array_spikemonitor_i_1976709050", ios::binary | ios::out);
    if(outfile__dynamic_array_spikemonitor_i.is_open())
    {
        if (! _dynamic_array_spikemonitor_i.empty() )
        {
            outfile__dynamic_array_spikemonitor_i.write(reinterpret_cast<char*>(&_dynamic_array_spikemonitor_i[0]), _dynamic_array_spikemonitor_i.size()*sizeof(_dynamic_array_spikemonitor_i[0]));
            outfile__dynamic_array_spikemonitor_i.close();
        }
    } else
    {
        std::cout << "Error writing output file for _dynamic_array_spikemonitor_i." << endl;
    }
    ofstream outfile__dynamic_array_spikemonitor_t;
    outfile__dynamic_array_spikemonitor_t.open(results_dir + "_dynamic_array_spikemonitor_t_383009635", ios::binary | ios::out);
    if(outfile__dynamic_array_spikemonitor_t.is_open())
    {
        if (! _dynamic_array_spikemonitor_t.empty() )
        {
            outfile__dynamic_array_spikemonitor_t.write(reinterpret_cast<char*>(&_dynamic_array_spikemonitor_t[0]), _dynamic_array_spikemonitor_t.size()*sizeof(_dynamic_array_spikemonitor_t[0]));
            outfile__dynamic_array_spikemonitor_t.close();
        }
    } else
    {
        std::cout << "Error writing output file for _dynamic_array_spikemonitor_t." << endl;
    }
    ofstream outfile__dynamic_array_statemonitor_t;
    outfile__dynamic_array_statemonitor_t.open(results_dir + "_dynamic_array_statemonitor_t_3983503110", ios::binary | ios::out);
    if(outfile__dynamic_array_statemonitor_t.is_open())
    {
        if (! _dynamic_array_statemonitor_t.empty() )
        {
            outfile__dynamic_array_statemonitor_t.write(reinterpret_cast<char*>(&_dynamic_array_statemonitor_t[0]), _dynamic_array_statemonitor_t.size()*sizeof(_dynamic_array_statemonitor_t[0]));
            outfile__dynamic_array_statemonitor_t.close();
        }
    } else
    {
        std::cout << "Error writing output file for _dynamic_array_statemonitor_t." << endl;
    }

    ofstream outfile__dynamic_array_statemonitor_v;
    outfile__dynamic_array_statemonitor_v.open(results_dir + "_dynamic_array_statemonitor_v_56692266", ios::binary | ios::out);
    if(outfile__dynamic_array_statemonitor_v.is_open())
    {
        for (int n=0; n<_dynamic_array_statemonitor_v.n; n++)
        {
            if (! _dynamic_array_statemonitor_v(n).empty())
            {
                outfile__dynamic_array_statemonitor_v.write(reinterpret_cast<char*>(&_dynamic_array_statemonitor_v(n, 0)), _dynamic_array_statemonitor_v.m*sizeof(_dynamic_array_statemonitor_v(0, 0)));
            }
        }
        outfile__dynamic_array_statemonitor_v.close();
    } else
    {
        std::cout << "Error writing output file for _dynamic_array_statemonitor_v." << endl;
    }

    // Write spike queue states to disk

    // Write random generator state to disk
    ofstream random_generator_state;
    random_generator_state.open(results_dir + "random_generator_state", ios::out);
    if (random_generator_state.is_open()) {
        for (int i=0; i<1; i++)
            random_generator_state << _random_generators[i] << "\n";
    } else {
        std::cout << "Error writing random generator state to file." << std::endl;
    }

    // Write last run info to disk
    ofstream outfile_last_run_info;
    outfile_last_run_info.open(results_dir + "last_run_info.txt", ios::out);
    if(outfile_last_run_info.is_open())
    {
        outfile_last_run_info << (Network::_last_run_time) << " " << (Network::_last_run_completed_fraction) << std::endl;
        outfile_last_run_info.close();
    } else
    {
        std::cout << "Error writing last run info to file." << std::endl;
    }
}

void _dealloc_arrays()
{
    using namespace brian;


    // static arrays
    if(_static_array__array_statemonitor__indices!=0)
    {
        delete [] _static_array__array_statemonitor__indices;
        _static_array__array_statemonitor__indices = 0;
    }
    if(_timedarray_values!=0)
    {
        delete [] _timedarray_values;
        _timedarray_values = 0;
    }
}

