// Plan form: show the chosen modality's catalogue defaults in the empty fields.
(function () {
  "use strict";
  var data = document.getElementById("modality-defaults");
  var modality = document.getElementById("id_modality");
  if (!data || !modality) return;
  var defaults = JSON.parse(data.textContent);
  var count = document.getElementById("id_session_count");
  var interval = document.getElementById("id_interval_days");

  function show() {
    var chosen = defaults[modality.value];
    if (!chosen) {
      count.placeholder = "";
      interval.placeholder = "";
      interval.removeAttribute("min");
      return;
    }
    count.placeholder = chosen.session_count + " (catalogue default)";
    interval.placeholder = chosen.interval_days + " (catalogue default; at least " + chosen.min_interval_days + ")";
    interval.min = chosen.min_interval_days;
  }

  modality.addEventListener("change", show);
  show();
})();
