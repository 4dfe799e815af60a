#include "code_objects/neurongroup_stateupdater_codeobject.h"
#include "objects.h"
#include "brianlib/common_math.h"
#include "brianlib/stdint_compat.h"
#include<chrono>
#include<cmath>
#include<ctime>
#include<iostream>
#include<fstream>
#include<climits>

////// SUPPORT CODE ///////
namespace {
        
    static double* _namespace_timedarray_values;
    static inline double _timedarray(const double t)
    {
        const double epsilon = 0.001000000000000000 / 128;
        int i = (int)((t/epsilon + 0.5)/128);
        if(i < 0)
           i = 0;
        if(i >= 1000)
            i = 1000-1;
        return _namespace_timedarray_values[i];
    }
    static inline int64_t _timestep(double t, double dt)
    {
        return (int64_t)((t + 1e-3*dt)/dt);
    }
    template < typename T1, typename T2 > struct _higher_type;
    template < > struct _higher_type<int32_t,int32_t> { typedef int32_t type; };
    template < > struct _higher_type<int32_t,int64_t> { typedef int64_t type; };
    template < > struct _higher_type<int32_t,float> { typedef float type; };
    template < > struct _higher_type<int32_t,double> { typedef double type; };
    template < > struct _higher_type<int32_t,long double> { typedef long double type; };
    template < > struct _higher_type<int64_t,int32_t> { typedef int64_t type; };
    template < > struct _higher_type<int64_t,int64_t> { typedef int64_t type; };
    template < > struct _higher_type<int64_t,float> { typedef float type; };
    template < > struct _higher_type<int64_t,double> { typedef double type; };
    template < > struct _higher_type<int64_t,long double> { typedef long double type; };
    template < > struct _higher_type<float,int32_t> { typedef float type; };
    template < > struct _higher_type<float,int64_t> { typedef float type; };
    template < > struct _higher_type<float,float> { typedef float type; };
    template < > struct _higher_type<float,double> { typedef double type; };
    template < > struct _higher_type<float,long double> { typedef long double type; };
    template < > struct _higher_type<double,int32_t> { typedef double type; };
    template < > struct _higher_type<double,int64_t> { typedef double type; };
    template < > struct _higher_type<double,float> { typedef double type; };
    template < > struct _higher_type<double,double> { typedef double type; };
    template < > struct _higher_type<double,long double> { typedef long double type; };
    template < > struct _higher_type<long double,int32_t> { typedef long double type; };
    template < > struct _higher_type<long double,int64_t> { typedef long double type; };
    template < > struct _higher_type<long double,float> { typedef long double type; };
    template < > struct _higher_type<long double,double> { typedef long double type; };
    template < > struct _higher_type<long double,long double> { typedef long double type; };
    // General template, used for floating point types
    template < typename T1, typename T2 >
    static inline typename _higher_type<T1,T2>::type
    _brian_mod(T1 x, T2 y)
    {
        return x-y*floor(1.0*x/y);
    }
    // Specific implementations for integer types
    // (from Cython, see LICENSE file)
    template <>
    inline int32_t _brian_mod(int32_t x, int32_t y)
    {
        int32_t r = x % y;
        r += ((r != 0) & ((r ^ y) < 0)) * y;
        return r;
    }
    template <>
    inline int64_t _brian_mod(int32_t x, int64_t y)
    {
        int64_t r = x % y;
        r += ((r != 0) & ((r ^ y) < 0)) * y;
        return r;
    }
    template <>
    inline int64_t _brian_mod(int64_t x, int32_t y)
    {
        int64_t r = x % y;
        r += ((r != 0) & ((r ^ y) < 0)) * y;
        return r;
    }
    template <>
    inline int64_t _brian_mod(int64_t x, int64_t y)
    {
        int64_t r = x % y;
        r += ((r != 0) & ((r ^ y) < 0)) * y;
        return r;
    }
    // General implementation, used for floating point types
    template < typename T1, typename T2 >
    static inline typename _higher_type<T1,T2>::type
    _brian_floordiv(T1 x, T2 y)
    {{
        return floor(1.0*x/y);
    }}
    // Specific implementations for integer types
    // (from Cython, see LICENSE file)
    template <>
    inline int32_t _brian_floordiv<int32_t, int32_t>(int32_t a, int32_t b) {
        int32_t q = a / b;
        int32_t r = a - q*b;
        q -= ((r != 0) & ((r ^ b) < 0));
        return q;
    }
    template <>
    inline int64_t _brian_floordiv<int32_t, int64_t>(int32_t a, int64_t b) {
        int64_t q = a / b;
        int64_t r = a - q*b;
        q -= ((r != 0) & ((r ^ b) < 0));
        return q;
    }
    template <>
    inline int64_t _brian_floordiv<int64_t, int>(int64_t a, int32_t b) {
        int64_t q = a / b;
        int64_t r = a - q*b;
        q -= ((r != 0) & ((r ^ b) < 0));
        return q;
    }
    template <>
    inline int64_t _brian_floordiv<int64_t, int64_t>(int64_t a, int64_t b) {
        int64_t q = a / b;
        int64_t r = a - q*b;
        q -= ((r != 0) & ((r ^ b) < 0));
        return q;
    }
    #ifdef _MSC_VER
    #define _brian_pow(x, y) (pow((double)(x), (y)))
    #else
    #define _brian_pow(x, y) (pow((x), (y)))
    #endif

}

////// HASH DEFINES ///////



void _run_neurongroup_stateupdater_codeobject()
{
    using namespace brian;


    ///// CONSTANTS ///////////
    const double A_m = 1e-08;
const size_t _numC_m = 2000;
const size_t _numE_L = 2000;
const double G_act = 0.009999999999999998;
const int64_t N = 2000;
const size_t _numV_thr = 2000;
const size_t _numdt = 1;
const size_t _numg_L = 2000;
const size_t _numk = 2000;
const size_t _numlastspike = 2000;
const size_t _numnot_refractory = 2000;
const size_t _numt = 1;
const size_t _numv = 2000;
    ///// POINTERS ////////////
        
    double* __restrict  _ptr_array_neurongroup_C_m = _array_neurongroup_C_m;
    double* __restrict  _ptr_array_neurongroup_E_L = _array_neurongroup_E_L;
    double* __restrict  _ptr_array_neurongroup_V_thr = _array_neurongroup_V_thr;
    double*   _ptr_array_defaultclock_dt = _array_defaultclock_dt;
    double* __restrict  _ptr_array_neurongroup_g_L = _array_neurongroup_g_L;
    double* __restrict  _ptr_array_neurongroup_k = _array_neurongroup_k;
    double* __restrict  _ptr_array_neurongroup_lastspike = _array_neurongroup_lastspike;
    char* __restrict  _ptr_array_neurongroup_not_refractory = _array_neurongroup_not_refractory;
    double*   _ptr_array_defaultclock_t = _array_defaultclock_t;
    double* __restrict  _ptr_array_neurongroup_v = _array_neurongroup_v;
    _namespace_timedarray_values = _timedarray_values;


    //// MAIN CODE ////////////
    // scalar code
    const size_t _vectorisation_idx = -1;
        
    const double dt = _ptr_array_defaultclock_dt[0];
    const double t = _ptr_array_defaultclock_t[0];
    const int64_t _lio_1 = _timestep(0.002, dt);
    const double _lio_2 = 1.0f*_timedarray(t)/A_m;
    const double _lio_3 = 1.0f*_timedarray((0.5 * dt) + t)/A_m;
    const double _lio_4 = 1.0f*_timedarray(dt + t)/A_m;


    const int _N = N;
    #pragma omp parallel for schedule(static)
    for(int _idx=0; _idx<_N; _idx++)
    {
        // vector code
        const size_t _vectorisation_idx = _idx;
                
        const double C_m = _ptr_array_neurongroup_C_m[_idx];
        const double E_L = _ptr_array_neurongroup_E_L[_idx];
        const double V_thr = _ptr_array_neurongroup_V_thr[_idx];
        const double g_L = _ptr_array_neurongroup_g_L[_idx];
        const double k = _ptr_array_neurongroup_k[_idx];
        const double lastspike = _ptr_array_neurongroup_lastspike[_idx];
        char not_refractory = _ptr_array_neurongroup_not_refractory[_idx];
        double v = _ptr_array_neurongroup_v[_idx];
        not_refractory = _timestep(t - lastspike, dt) >= _lio_1;
        double __k_1_v;
        if(!not_refractory)
            __k_1_v = 0.0;
        else 
            __k_1_v = 1.0f*(dt * ((_lio_2 + (1.0f*G_act/(1.0 + exp(1.0f*(V_thr - v)/k)))) - (g_L * ((- E_L) + v))))/C_m;
        double __k_2_v;
        if(!not_refractory)
            __k_2_v = 0.0;
        else 
            __k_2_v = 1.0f*(dt * ((_lio_3 + (1.0f*G_act/(1.0 + exp(1.0f*(V_thr - ((0.5 * __k_1_v) + v))/k)))) - (g_L * (((- E_L) + (0.5 * __k_1_v)) + v))))/C_m;
        double __k_3_v;
        if(!not_refractory)
            __k_3_v = 0.0;
        else 
            __k_3_v = 1.0f*(dt * ((_lio_3 + (1.0f*G_act/(1.0 + exp(1.0f*(V_thr - ((0.5 * __k_2_v) + v))/k)))) - (g_L * (((- E_L) + (0.5 * __k_2_v)) + v))))/C_m;
        double __k_4_v;
        if(!not_refractory)
            __k_4_v = 0.0;
        else 
            __k_4_v = 1.0f*(dt * ((_lio_4 + (1.0f*G_act/(1.0 + exp(1.0f*(V_thr - (__k_3_v + v))/k)))) - (g_L * (((- E_L) + __k_3_v) + v))))/C_m;
        const double _v = ((((0.16666666666666666 * __k_1_v) + (0.3333333333333333 * __k_2_v)) + (0.3333333333333333 * __k_3_v)) + (0.16666666666666666 * __k_4_v)) + v;
        if(not_refractory)
            v = _v;
        _ptr_array_neurongroup_not_refractory[_idx] = not_refractory;
        _ptr_array_neurongroup_v[_idx] = v;

    }

}


