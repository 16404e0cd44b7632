// Progressive enhancement for the scan page: fill the coarse-place form from the phone's
// location when the visitor asks, rounded to 0.1 degree (about 11 km) before it leaves.
(function () {
  "use strict";
  var button = document.getElementById("locate");
  if (!button || !("geolocation" in navigator)) return;
  var form = button.form;
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        form.elements.lat.value = pos.coords.latitude.toFixed(1);
        form.elements.lon.value = pos.coords.longitude.toFixed(1);
        form.submit();
      },
      function () { button.disabled = false; },
      { enableHighAccuracy: false, maximumAge: 600000, timeout: 15000 }
    );
  });
})();
