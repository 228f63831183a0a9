// Photo capture and comparison. No inline scripts or styles (strict CSP): everything is here.
(function () {
  "use strict";

  // --- upload: one XMLHttpRequest per file, each with its own progress bar ------------------
  function setupUpload(form) {
    var list = document.getElementById("upload-list");
    var inputs = [document.getElementById("id_files"), document.getElementById("id_camera")];
    var dropped = [];
    var zone = document.getElementById("dropzone");

    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      Array.prototype.push.apply(dropped, event.dataTransfer.files);
      zone.querySelector("p").textContent = dropped.length + " photo(s) dropped; press Upload.";
      showPreview(dropped[0]);
    });
    inputs.forEach(function (input) {
      input.addEventListener("change", function () { showPreview(input.files[0]); });
    });

    function csrfToken() {
      return form.querySelector("input[name=csrfmiddlewaretoken]").value;
    }

    function message(xhr) {
      try {
        var body = JSON.parse(xhr.responseText);
        var parts = [];
        Object.keys(body).forEach(function (key) {
          var value = body[key];
          parts.push(Array.isArray(value) ? value.join(" ") : String(value));
        });
        return parts.join(" ") || "The server refused the file.";
      } catch (e) {
        return "The server answered " + xhr.status + ".";
      }
    }

    function send(file, done) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + file.name);
      var state = document.createElement("span");
      state.className = "upload-state";
      state.textContent = "Waiting…";
      item.append(name, bar, state);
      list.appendChild(item);

      var data = new FormData();
      data.append("session", form.dataset.session);
      ["body_area", "view", "view_label", "phase"].forEach(function (field) {
        data.append(field, form.elements[field].value);
      });
      form.querySelectorAll("input[name=purposes]:checked").forEach(function (box) {
        data.append("purposes", box.value);
      });
      data.append("file", file, file.name);

      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          bar.value = Math.round((event.loaded / event.total) * 100);
          state.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 201) {
          bar.value = 100;
          item.className = "ok";
          state.textContent = "Uploaded";
        } else {
          item.className = "bad";
          state.setAttribute("role", "alert");
          state.textContent = "Failed: " + message(xhr);
        }
        done();
      });
      xhr.addEventListener("error", function () {
        item.className = "bad";
        state.textContent = "Failed: the connection was lost.";
        done();
      });
      xhr.send(data);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = dropped.slice();
      inputs.forEach(function (input) { Array.prototype.push.apply(files, input.files); });
      if (!files.length) {
        list.innerHTML = "";
        var item = document.createElement("li");
        item.className = "bad";
        item.textContent = "Choose at least one photo.";
        list.appendChild(item);
        return;
      }
      var remaining = files.length;
      files.forEach(function (file) {
        send(file, function () {
          remaining -= 1;
          if (remaining === 0) {
            dropped = [];
            inputs.forEach(function (input) { input.value = ""; });
            zone.querySelector("p").textContent = "Drop photos here, or";
            if (window.htmx) { window.htmx.trigger(document.body, "photos-uploaded"); }
          }
        });
      });
    });
  }

  // --- capture guide: the earlier photo of the same view, beside and over the new one --------
  var guides = {};
  var previewUrl = null;

  function setupGuide(form) {
    var data = document.getElementById("guide-data");
    if (data) {
      JSON.parse(data.textContent).forEach(function (guide) { guides[guide.view] = guide.url; });
    }
    form.elements.view.addEventListener("change", updateGuide);
    form.elements.phase.addEventListener("change", updateGuide);
    updateGuide();
  }

  function updateGuide() {
    var form = document.getElementById("photo-upload");
    var box = document.getElementById("capture-guide");
    var url = guides[form.elements.view.value];
    var show = form.elements.phase.value === "after" && Boolean(url);
    box.hidden = !show;
    if (show) {
      document.getElementById("guide-image").src = url;
      var overlay = document.getElementById("guide-overlay");
      overlay.src = url;
      overlay.hidden = !previewUrl;
    }
  }

  function showPreview(file) {
    if (!file) { return; }
    if (previewUrl) { URL.revokeObjectURL(previewUrl); }
    previewUrl = URL.createObjectURL(file);
    var preview = document.getElementById("guide-preview");
    if (preview) {
      preview.src = previewUrl;
      preview.hidden = false;
    }
    updateGuide();
  }

  // --- comparison slider: CSSOM changes are allowed under the CSP ----------------------------
  function setupSlider(range) {
    var top = document.getElementById("compare-top");
    function apply() {
      top.style.clipPath = "inset(0 " + (100 - Number(range.value)) + "% 0 0)";
    }
    range.addEventListener("input", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("photo-upload");
    if (form) {
      setupUpload(form);
      setupGuide(form);
    }
    var range = document.getElementById("compare-range");
    if (range) { setupSlider(range); }
  });
})();
