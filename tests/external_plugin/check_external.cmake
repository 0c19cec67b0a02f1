# cmake -DMODE=example|kinds -DWORK_DIR=... -DLATFLOW_BUILD_DIR=... [...]
#       -P check_external.cmake
# (tests.cmake passes the rest: generator, compiler and its flags, build
# type, prefix path and package folders, ABI version and release of the
# build tree)
#
# Installs the latflow build tree into WORK_DIR/prefix and uses it as a
# third party would, with fresh CMake projects and the installed program.
# MODE example: the XY model of this folder, its numbers against
# xy_reference.txt, the package's LibTorch check, and the action project of
# `latflow new-plugin`. MODE kinds: the project of every kind of
# `latflow new-plugin`, built and run. WORK_DIR is emptied first and removed
# when every check passes; its logs/ folder holds each step's output.

cmake_minimum_required(VERSION 3.22)

foreach(var MODE WORK_DIR LATFLOW_BUILD_DIR EXAMPLE_DIR GENERATOR
            CXX_COMPILER ABI_VERSION VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_external.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()
# The scratch prefix first. Given in the environment, colon separated, as
# a list would be split on its way through step().
string(REPLACE "|" ":" search_path "${PREFIX_PATH}")
set(search_env "CMAKE_PREFIX_PATH=${WORK_DIR}/prefix:${search_path}")
string(REPLACE "|" ";" PACKAGE_DIRS "${PACKAGE_DIRS}")
set(package_args)
foreach(package_dir ${PACKAGE_DIRS})
  list(APPEND package_args "-D${package_dir}")
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(program ${prefix}/bin/latflow)
set(logs ${WORK_DIR}/logs)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${logs})
string(TIMESTAMP started "%s")

# step(NAME [EXPECT rc] [ENV VAR=VALUE...] COMMAND cmd...)
# Runs cmd with LATFLOW_PLUGIN_PATH unset unless ENV sets it, keeps its
# output in logs/NAME.out and .err and in STEP_OUT and STEP_ERR, and fails
# unless it exits with rc (default 0).
function(step name)
  cmake_parse_arguments(ARG "" "EXPECT" "ENV;COMMAND" ${ARGN})
  if(NOT DEFINED ARG_EXPECT)
    set(ARG_EXPECT 0)
  endif()
  string(TIMESTAMP begin "%s")
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env --unset=LATFLOW_PLUGIN_PATH ${ARG_ENV}
            ${ARG_COMMAND}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
    TIMEOUT 600)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${begin}")
  file(WRITE ${logs}/${name}.out "${out}")
  file(WRITE ${logs}/${name}.err "${err}")
  if(NOT "${rc}" STREQUAL "${ARG_EXPECT}")
    string(JOIN " " shown ${ARG_ENV} ${ARG_COMMAND})
    message(FATAL_ERROR "${name}: exit ${rc}, expected ${ARG_EXPECT}\n"
      "command: ${shown}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "${name}: ok (${seconds} s)")
  set(STEP_OUT "${out}" PARENT_SCOPE)
  set(STEP_ERR "${err}" PARENT_SCOPE)
endfunction()

# Fails unless `text` contains `what` (a plain string).
function(expect_contains name text what)
  string(FIND "${text}" "${what}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${name}: expected to find\n  ${what}\nin\n${text}")
  endif()
endfunction()

# Configures and builds the CMake project in `source` as a third party
# would: a fresh build folder, latflow found through CMAKE_PREFIX_PATH.
function(build_project name source build)
  step(${name}_configure ENV ${search_env} COMMAND ${CMAKE_COMMAND}
    -S ${source} -B ${build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_MODULE_LINKER_FLAGS=${CXX_FLAGS}"
    ${package_args}
    -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/user)
  # The package of the scratch prefix, not one installed elsewhere.
  file(STRINGS ${build}/CMakeCache.txt found REGEX "^latflow_DIR:")
  expect_contains(${name}_package "${found}" "${prefix}/")
  step(${name}_build COMMAND ${CMAKE_COMMAND} --build ${build} --parallel 2)
endfunction()

# --- latflow, installed ----------------------------------------------------

set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
step(install COMMAND ${CMAKE_COMMAND} --install ${LATFLOW_BUILD_DIR}
  ${config_args} --prefix ${prefix})
foreach(file bin/latflow include/latflow/version.h include/latflow/plugin.h
             lib/cmake/latflow/latflowConfig.cmake
             lib/cmake/latflow/latflowConfigVersion.cmake
             lib/cmake/latflow/latflowTargets.cmake
             lib/cmake/latflow/LatflowPlugin.cmake)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "install: ${prefix}/${file} is missing")
  endif()
endforeach()
file(GLOB core ${prefix}/lib/liblatflow_core.so.*)
file(GLOB bundled ${prefix}/lib/latflow/plugins/latflow_*.so)
if(NOT core OR NOT bundled)
  message(FATAL_ERROR "install: no core library or no plugin in ${prefix}")
endif()
# The exported targets carry no path of the build tree and no PCH.
file(READ ${prefix}/lib/cmake/latflow/latflowTargets.cmake targets)
foreach(leak "${LATFLOW_BUILD_DIR}" "latflow_pch" "cmake_pch")
  string(FIND "${targets}" "${leak}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "latflowTargets.cmake mentions ${leak}")
  endif()
endforeach()

# Installed, the program and every plugin find liblatflow_core in the
# prefix by their RPATH alone.
file(GET_RUNTIME_DEPENDENCIES
  EXECUTABLES ${program}
  MODULES ${bundled}
  RESOLVED_DEPENDENCIES_VAR resolved
  UNRESOLVED_DEPENDENCIES_VAR unresolved
  PRE_INCLUDE_REGEXES "latflow_core"
  PRE_EXCLUDE_REGEXES ".*")
if(unresolved OR NOT resolved)
  message(FATAL_ERROR "installed RPATH: unresolved ${unresolved}")
endif()
foreach(library ${resolved})
  string(FIND "${library}" "${prefix}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "installed RPATH: ${library} is not in ${prefix}")
  endif()
endforeach()

# No environment variable: the plugins installed beside the program.
step(bundled_plugins COMMAND ${program} plugins)
expect_contains(bundled_plugins "${STEP_OUT}"
  "(${prefix}/lib/latflow/plugins/latflow_")
string(FIND "${STEP_OUT}" "${LATFLOW_BUILD_DIR}/lib/" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "the installed program loaded plugins of the build "
    "tree:\n${STEP_OUT}")
endif()

step(version COMMAND ${program} --version)
if(NOT STEP_OUT MATCHES "LibTorch ([^,]+),")
  message(FATAL_ERROR "latflow --version: ${STEP_OUT}")
endif()
set(torch_version ${CMAKE_MATCH_1})

# --- MODE example: the XY model ---------------------------------------------

# check_xy(NAME OUTPUT BETA): every line of xy_reference.txt for BETA
# against the JSON lines of `latflow action`.
function(check_xy name output beta)
  string(REPLACE "\n" ";" lines "${output}")
  list(FILTER lines INCLUDE REGEX "^{")
  list(LENGTH lines count)
  if(NOT count EQUAL 6)
    message(FATAL_ERROR "${name}: ${count} JSON lines, expected 6:\n"
      "${output}")
  endif()
  file(STRINGS ${EXAMPLE_DIR}/xy_reference.txt references REGEX "^[0-9]")
  set(checked 0)
  foreach(reference ${references})
    string(REPLACE " " ";" fields "${reference}")
    list(GET fields 0 reference_beta)
    if(NOT reference_beta STREQUAL beta)
      continue()
    endif()
    list(GET fields 1 index)
    list(GET fields 2 key)
    list(GET fields 3 low)
    list(GET fields 4 high)
    list(GET lines ${index} line)
    string(JSON value ERROR_VARIABLE missing GET "${line}" ${key})
    if(missing OR NOT value GREATER_EQUAL low OR NOT value LESS_EQUAL high)
      message(FATAL_ERROR "${name}: configuration ${index}, ${key} = "
        "${value}, expected [${low}, ${high}] (beta ${beta})\n${line}")
    endif()
    math(EXPR checked "${checked} + 1")
  endforeach()
  if(checked EQUAL 0)
    message(FATAL_ERROR "${name}: no reference value for beta ${beta}")
  endif()
  message(STATUS "${name}: ${checked} values agree with xy_reference.txt")
endfunction()

if(MODE STREQUAL "example")
  # A consumer whose LibTorch differs from latflow's is refused at
  # configure time, before it builds plugins that could not load.
  set(fake_torch ${WORK_DIR}/other_torch)
  file(WRITE ${fake_torch}/TorchConfig.cmake "set(Torch_FOUND TRUE)\n")
  file(WRITE ${fake_torch}/TorchConfigVersion.cmake
    "set(PACKAGE_VERSION 0.0.1)\nset(PACKAGE_VERSION_COMPATIBLE TRUE)\n")
  step(other_torch EXPECT 1 ENV ${search_env} COMMAND ${CMAKE_COMMAND}
    -S ${EXAMPLE_DIR} -B ${WORK_DIR}/other_torch_build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DTorch_DIR=${fake_torch})
  string(REGEX REPLACE "[ \n]+" " " said "${STEP_OUT}${STEP_ERR}")
  expect_contains(other_torch "${said}"
    "but this project found LibTorch 0.0.1")
  expect_contains(other_torch "${said}" "built against LibTorch ")

  set(xy_build ${WORK_DIR}/xy_build)
  build_project(xy ${EXAMPLE_DIR} ${xy_build})
  step(xy_unit_tests COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${xy_build}
    --output-on-failure)
  expect_contains(xy_unit_tests "${STEP_OUT}" "100% tests passed")
  expect_contains(xy_unit_tests "${STEP_OUT}" "xy_test")
  step(xy_install COMMAND ${CMAKE_COMMAND} --install ${xy_build})
  set(xy_installed ${WORK_DIR}/user/lib/latflow/plugins/latflow_xy_model.so)
  if(NOT EXISTS ${xy_installed})
    message(FATAL_ERROR "xy_install: ${xy_installed} is missing")
  endif()

  set(env LATFLOW_PLUGIN_PATH=${xy_build})
  step(xy_listed ENV ${env} COMMAND ${program} plugins)
  expect_contains(xy_listed "${STEP_OUT}"
    "plugin xy_model 1.0.0 (${xy_build}/latflow_xy_model.so)")
  step(xy_parameters ENV ${env} COMMAND ${program} plugins action/xy)
  expect_contains(xy_parameters "${STEP_OUT}" "action/xy: classical XY")
  expect_contains(xy_parameters "${STEP_OUT}"
    "beta  1.0      a number >= 0")

  set(configs ${EXAMPLE_DIR}/xy_configs.npy)
  step(xy_action ENV ${env} COMMAND ${program} action
    ${EXAMPLE_DIR}/xy.toml --configs ${configs})
  check_xy(xy_action "${STEP_OUT}" 0.7)
  step(xy_action_override ENV ${env} COMMAND ${program} action
    ${EXAMPLE_DIR}/xy.toml --configs ${configs} action.beta=1.3)
  check_xy(xy_action_override "${STEP_OUT}" 1.3)

  # The installed plugin, through [plugins] paths relative to the file.
  file(READ ${EXAMPLE_DIR}/xy.toml experiment)
  file(WRITE ${WORK_DIR}/xy_paths.toml
    "[plugins]\npaths = [\"user/lib/latflow/plugins\"]\n\n${experiment}")
  step(xy_paths COMMAND ${program} action ${WORK_DIR}/xy_paths.toml
    --configs ${configs})
  check_xy(xy_paths "${STEP_OUT}" 0.7)

  # The shipped flows refuse the circle-valued field by name.
  step(xy_no_flow EXPECT 2 ENV ${env} COMMAND ${program} run --dry-run
    ${EXAMPLE_DIR}/xy.toml)
  expect_contains(xy_no_flow "${STEP_ERR}" "\"circle\"")

  # The action project of `latflow new-plugin`, built as its README says.
  set(toy ${WORK_DIR}/toy_action)
  step(new_plugin COMMAND ${program} new-plugin toy_action --kind action
    --out ${toy})
  build_project(toy ${toy} ${toy}/build)
  step(toy_parameters ENV LATFLOW_PLUGIN_PATH=${toy}/build
    COMMAND ${program} plugins action/toy_action)
  expect_contains(toy_parameters "${STEP_OUT}" "m2   1.0      a number > 0")
  step(toy_run COMMAND ${program} run ${toy}/experiment.toml train.steps=2
    train.batch=16 evaluate.batch=64 --out ${WORK_DIR}/toy_run)
  file(READ ${WORK_DIR}/toy_run/summary.json summary)
  expect_contains(toy_run "${summary}" "\"phi2\"")
  step(new_plugin_again EXPECT 2 COMMAND ${program} new-plugin toy_action
    --kind action --out ${toy})
  expect_contains(new_plugin_again "${STEP_ERR}" "is not an empty folder")
  step(new_plugin_kind EXPECT 2 COMMAND ${program} new-plugin toy
    --kind actoin --out ${WORK_DIR}/toy)
  expect_contains(new_plugin_kind "${STEP_ERR}" "did you mean 'action'?")
elseif(MODE STREQUAL "kinds")
  foreach(kind action flow estimator sampler observable)
    set(name demo_${kind})
    set(project ${WORK_DIR}/${name})
    step(new_${kind} COMMAND ${program} new-plugin ${name} --kind ${kind}
      --out ${project})
    build_project(${name} ${project} ${project}/build)
    step(${name}_parameters ENV LATFLOW_PLUGIN_PATH=${project}/build
      COMMAND ${program} plugins ${kind}/${name})
    if(EXISTS ${project}/experiment.toml)
      step(${name}_run COMMAND ${program} run ${project}/experiment.toml
        train.steps=3 train.batch=16 evaluate.batch=64
        --out ${WORK_DIR}/${name}_run)
      if(NOT EXISTS ${WORK_DIR}/${name}_run/summary.json)
        message(FATAL_ERROR "${name}_run: no summary.json")
      endif()
    endif()
  endforeach()
else()
  message(FATAL_ERROR "check_external.cmake: MODE ${MODE} is not example "
    "or kinds")
endif()

string(TIMESTAMP finished "%s")
math(EXPR seconds "${finished} - ${started}")
message(STATUS "external plugin checks (${MODE}) passed in ${seconds} s")
file(REMOVE_RECURSE ${WORK_DIR})
