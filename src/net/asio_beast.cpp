// Asio and Beast compiled once for the whole program (house style 3.5): every other translation
// unit sees BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION (PUBLIC compile
// definitions of dvd_net) and so only declares what is defined here.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
